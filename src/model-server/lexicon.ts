/**
 * Sentiment lexicon: words with a clear polarity in everyday English. Strong words weigh 2, the
 * rest 1. Lower case; inflected forms are listed where they are common.
 */
const POSITIVE_STRONG = `
  amazing awesome brilliant delightful excellent exceptional fabulous fantastic flawless glorious
  gorgeous incredible love loved loves magnificent marvelous marvellous masterpiece outstanding
  perfect phenomenal splendid stellar stunning superb terrific thrilled thrilling wonderful
  wonderfully best adore adored ecstatic exquisite breathtaking
`;

const POSITIVE = `
  good great nice fine happy glad pleased pleasant pleasing enjoy enjoyed enjoyable enjoying fun
  beautiful lovely pretty cute charming elegant graceful neat tidy clean fresh bright sunny warm
  calm peaceful relaxing relaxed comfortable cozy cosy friendly kind kindly helpful generous warmhearted
  caring gentle polite respectful honest loyal trustworthy reliable dependable solid sturdy robust
  stable safe secure healthy strong fit smart clever wise intelligent talented skilled capable
  competent efficient effective productive useful valuable worthwhile rewarding successful success
  win wins won winner winning victory triumph achieve achieved accomplish accomplished progress
  improve improved improvement better recommend recommended impressive impressed admire admirable
  appreciate appreciated grateful thankful thanks thank cheerful joy joyful jolly merry excited
  exciting eager enthusiastic inspired inspiring inspiration hope hopeful optimistic confident
  proud pride satisfied satisfying satisfaction content delighted delight like liked likes
  favorite favourite praise praised celebrate celebrated celebration smile smiles smiling laugh
  laughing laughter fast quick smooth easy simple intuitive convenient affordable cheap bargain
  fair accurate correct right clear creative innovative original fascinating interesting
  engaging entertaining funny hilarious cool sweet tasty delicious yummy heavenly blessed lucky
  fortunate thriving flourishing vibrant lively harmony harmonious welcome welcoming positive
  benefit beneficial advantage support supportive encourage encouraging heal healed relief
  relieved comfort comforting superior premium quality powerful remarkable memorable unforgettable
  pure ideal upbeat okay ok
`;

const NEGATIVE_STRONG = `
  awful terrible horrible horrendous dreadful atrocious abysmal appalling disgusting despicable
  hate hated hates loathe loathed worst disaster disastrous catastrophe catastrophic nightmare
  pathetic miserable vile furious outrageous unbearable useless worthless garbage trash
  horrific hideous tragic devastating devastated
`;

const NEGATIVE = `
  bad poor sad unhappy upset angry mad annoyed annoying irritating irritated frustrated
  frustrating disappointed disappointing disappointment dislike disliked boring bored dull
  tedious slow sluggish late broken break breaks crash crashed crashes fail failed fails failure
  failing wrong error errors bug buggy glitch glitchy faulty defective damaged flawed mistake
  problem problems issue issues trouble troubled difficult hard painful pain hurt hurts hurting
  injury ill sick sickness disease weak fragile flimsy cheaply expensive overpriced costly waste
  wasted lose lost loss losing loser defeat defeated ugly dirty messy filthy smelly stale rotten
  gross nasty rude mean cruel unfair unkind selfish dishonest liar lie lies lying fake fraud scam
  cheat cheated steal stolen danger dangerous unsafe risky threat scary scared afraid fear
  fearful frightened frightening terrified worry worried worrying anxious nervous stress stressed
  stressful tense lonely alone gloomy grim dark depressing depressed cry crying tears grief
  sorrow regret regretful sorry shame ashamed embarrassing embarrassed guilty confusing confused
  complicated clumsy awkward inconvenient unreliable unstable inaccurate incorrect mediocre
  inferior lame weird strange odd noisy loud crowded cramped cold harsh bitter sour bland
  tasteless greasy overcooked undercooked hungry tired exhausted exhausting lazy careless
  negligent ignore ignored neglect neglected abandon abandoned reject rejected refuse refused
  complain complaint complaints criticize criticise blame blamed attack attacked destroy
  destroyed ruin ruined spoil spoiled spoilt damage hostile violent violence war conflict
  argument angrily sadly unfortunately hopeless helpless pointless meaningless negative
`;

/** Words that flip the polarity of the next few words. */
export const NEGATORS: ReadonlySet<string> = new Set([
  'not', 'no', 'never', 'none', 'nobody', 'nothing', 'neither', 'nor', 'nowhere', 'hardly',
  'barely', 'scarcely', 'without', 'cannot', 'cant', 'dont', 'doesnt', 'didnt', 'isnt', 'arent',
  'wasnt', 'werent', 'wont', 'wouldnt', 'shouldnt', 'couldnt', 'aint', 'havent', 'hasnt', 'hadnt',
]);

/** Words that strengthen the next polar word. */
export const INTENSIFIERS: ReadonlySet<string> = new Set([
  'very', 'really', 'extremely', 'so', 'truly', 'incredibly', 'super', 'highly', 'totally',
  'absolutely', 'completely', 'utterly', 'deeply', 'remarkably', 'especially', 'particularly',
]);

function weighted(words: string, weight: number): Array<[string, number]> {
  return words.split(/\s+/).filter((word) => word.length > 0).map((word) => [word, weight]);
}

/** Word -> valence (positive above zero, negative below). */
export const VALENCE: ReadonlyMap<string, number> = new Map([
  ...weighted(POSITIVE, 1),
  ...weighted(POSITIVE_STRONG, 2),
  ...weighted(NEGATIVE, -1),
  ...weighted(NEGATIVE_STRONG, -2),
]);

/**
 * Training text for the n-gram generator. Written for this project; plain prose so that generated
 * text reads like sentences. Keep it free of quotes and brackets so tokens join back cleanly.
 */
export const TRAINING_CORPUS = `
The river wakes before the town does. In the grey hour before sunrise the water carries mist down
from the hills, past the mill and the old stone bridge, and the herons stand in the shallows as if
they were waiting for a train. By the time the baker opens his shutters the mist has lifted, and the
river is only a river again, brown and patient, moving toward the sea at the pace it has always kept.

The lighthouse keeper counts the ships that pass in the night. She writes each one in a thick book
with a green cover: the hour, the direction, the colour of the lights. Most nights there are only a
few, fishing boats going out and coming home, but in autumn the large ships come through on their way
south, and she stays awake to watch them cross the bay like slow lanterns. She says the sea is never
the same twice, and that a careful eye can read the weather in the shape of the waves.

In the small garden behind the school the children planted beans, carrots and a row of sunflowers.
The beans climbed the fence within a month. The carrots were slow and shy, and most of them stayed
small, but the sunflowers grew taller than the teacher and turned their heavy heads to follow the sun
across the yard. At the end of the summer the children saved the seeds in paper envelopes, so that
the garden could begin again in the spring.

A good loaf of bread needs flour, water, salt and time. The baker mixes the dough late in the evening
and leaves it to rest through the night, because patience gives the bread its flavour. In the morning
he shapes the loaves by hand, bakes them in a hot oven, and sets them on the racks to cool. People
in the town say they can tell the day of the week by the smell of the bakery, and they are rarely
wrong.

The train to the coast leaves at nine and stops at every village on the way. It is not a fast train,
but nobody who takes it is in a hurry. Farmers carry baskets of apples, students read with their
feet on the opposite seat, and an old man with a violin case sleeps until the last station. From the
window you can see the fields change from green to gold as the line bends toward the sea, and then
the first grey gleam of water between the dunes.

When the storm came in the evening the wind bent the trees and rattled every window in the street.
The power failed for an hour, and families lit candles and told stories in the kitchen while the
rain drummed on the roof. By morning the sky was clear and washed, the gutters were full of leaves,
and the whole town stepped outside to look at the river, which had risen to the edge of the bridge
and then, quietly, begun to fall.
`;

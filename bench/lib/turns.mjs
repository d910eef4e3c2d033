// The order in which side-by-side measures give their subjects a turn, defined once.

/** The indices 0 … count-1 in order in even rounds and reversed in odd ones, so that no subject always goes first. */
export function turnOrder(count, round) {
  const order = [...Array(count).keys()];
  return round % 2 === 0 ? order : order.reverse();
}

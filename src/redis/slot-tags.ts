/**
 * A hash tag per Redis Cluster slot: `{<slotTag(s)>}` in a key puts it in slot s. The usage store keeps a
 * batch guard per slot it writes to, and a guard must share its slot with the writes it guards (one
 * script, one slot), whatever keys those are.
 *
 * The table holds, for every slot, the first base-36 number (0, 1, …, z, 10, …) that hashes to it: at
 * most four characters, the same in every process and version, built once on first use (about 90,000
 * CRC16s, some milliseconds).
 */
import calculateSlot from 'cluster-key-slot';

const SLOTS = 16_384;
let table: string[] | undefined;

export function slotTag(slot: number): string {
  table ??= buildTable();
  const tag = table[slot];
  if (tag === undefined) throw new RangeError(`not a cluster slot: ${slot}`);
  return tag;
}

function buildTable(): string[] {
  const tags = new Array<string>(SLOTS);
  for (let n = 0, found = 0; found < SLOTS; n++) {
    const tag = n.toString(36);
    const slot = calculateSlot(tag);
    if (tags[slot] === undefined) {
      tags[slot] = tag;
      found += 1;
    }
  }
  return tags;
}

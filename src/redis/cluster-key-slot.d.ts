/** The slice of cluster-key-slot (ioredis' own slot function) tollgate uses: the package ships no types. */
declare module 'cluster-key-slot' {
  /** The cluster slot (0..16383) of a key: CRC16 of its `{hash tag}` when it has one, else of the whole key. */
  function calculateSlot(key: string | Buffer): number;
  export default calculateSlot;
}

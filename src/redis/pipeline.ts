/** Running a pipeline or MULTI of ioredis commands, for the stores that read and write several at once. */
import type { ChainableCommander } from 'ioredis';

/**
 * The replies in command order. Redis reports errors per command, inside the replies; this rejects
 * with the first of them instead, as it does when the whole call fails or a MULTI was aborted.
 */
export async function execReplies(commands: ChainableCommander): Promise<unknown[]> {
  const replies = await commands.exec();
  if (!replies) throw new Error('Redis transaction was aborted');
  return replies.map(([err, reply]) => {
    if (err) throw err;
    return reply;
  });
}

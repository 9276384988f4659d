/** The two OpenAI APIs tollgate proxies: Chat Completions and Responses. */
export const ENDPOINTS = ['chat', 'responses'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

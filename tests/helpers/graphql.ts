export interface GraphQLResponse<T = any> {
  readonly status: number;
  readonly data?: T;
  readonly errors?: readonly { message: string; path?: readonly (string | number)[]; extensions?: Record<string, any> }[];
}

/**
 * POSTs a GraphQL operation as a client would. `auth`: an access token to send
 * as a signed-in client, or headers (a gateway's, to call a subgraph directly).
 */
export const gql = async <T = any>(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  auth?: string | Readonly<Record<string, string>>,
): Promise<GraphQLResponse<T>> => {
  const headers = typeof auth === 'string' ? { authorization: `Bearer ${auth}` } : (auth ?? {});
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse<T>, 'status'>;
  return { status: response.status, ...body };
};

/** Polls `read` until `done` holds: for state that changes in the background (email delivery). */
export const eventually = async <T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

export const SIGN_UP = /* GraphQL */ `
  mutation SignUp($input: AddUserInput!) {
    addUser(input: $input) {
      user { id name createdAt }
      errors { code field message }
    }
  }
`;

import { useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { describeError } from './errors';
import { graphql } from './graphql';

const USER_LIST = graphql(`
  query UserList($first: Int!, $after: String) {
    users(first: $first, after: $after) {
      totalCount
      edges {
        node { id name email createdAt welcomeEmail { id status } }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const PAGE_SIZE = 5;

/** Users in sign-up order, one page at a time (Relay cursors; `after` of each page kept to go back). */
export function UserList() {
  const [afters, setAfters] = useState<(string | null)[]>([null]);
  const after = afters[afters.length - 1] ?? null;
  // errorPolicy 'all': with the notifications service down, the users still show, without email status.
  const { data, error, loading } = useQuery(USER_LIST, { variables: { first: PAGE_SIZE, after }, errorPolicy: 'all' });
  const users = data?.users;

  return (
    <section aria-labelledby="users-heading">
      <h2 id="users-heading">Users{users ? ` (${users.totalCount})` : ''}</h2>
      {error && (
        <p role="alert" className="error">
          {describeError(error)}
        </p>
      )}
      {loading && !users && <p>Loading…</p>}
      {users && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Signed up</th>
              <th scope="col">Welcome email</th>
            </tr>
          </thead>
          <tbody>
            {users.edges.map(({ node }) => (
              <tr key={node.id}>
                <td>{node.name}</td>
                <td>{node.email}</td>
                <td>{new Date(node.createdAt).toLocaleString()}</td>
                <td>{node.welcomeEmail?.status ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav aria-label="Pages">
        <button type="button" disabled={afters.length === 1} onClick={() => setAfters(afters.slice(0, -1))}>
          Previous
        </button>
        <span>Page {afters.length}</span>
        <button
          type="button"
          disabled={!users?.pageInfo.hasNextPage}
          onClick={() => users && setAfters([...afters, users.pageInfo.endCursor ?? null])}
        >
          Next
        </button>
      </nav>
    </section>
  );
}

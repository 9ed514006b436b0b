import { useQuery } from '@apollo/client/react';
import { useEffect, useState } from 'react';
import { describeError } from './errors';
import { graphql } from './graphql';

const WELCOME_EMAIL = graphql(`
  query WelcomeEmail($id: ID!) {
    user(id: $id) {
      id
      welcomeEmail { id status attempts sentAt lastError }
    }
  }
`);

export const POLL_INTERVAL_MS = 500;

/** The welcome email of a new user, polled until it is SENT or FAILED. */
export function WelcomeStatus({ userId, email }: { userId: string; email: string }) {
  const [settled, setSettled] = useState(false);
  // A pollInterval of 0 stops polling: the status no longer changes once SENT or FAILED.
  const { data, error } = useQuery(WELCOME_EMAIL, {
    variables: { id: userId },
    pollInterval: settled ? 0 : POLL_INTERVAL_MS,
  });
  const delivery = data?.user?.welcomeEmail;
  // null until the notifications service has learnt of the new user.
  const status = delivery?.status ?? 'PENDING';
  useEffect(() => setSettled(status === 'SENT' || status === 'FAILED'), [status]);

  return (
    <section aria-labelledby="welcome-heading">
      <h2 id="welcome-heading">Welcome email</h2>
      <p className="status" role="status" data-status={status}>
        {status === 'PENDING' && `Waiting for the welcome email to ${email} to be queued…`}
        {status === 'QUEUED' && `Sending the welcome email to ${email} (attempt ${delivery?.attempts ?? 0})…`}
        {status === 'SENT' && `Welcome email sent to ${email}.`}
        {status === 'FAILED' && `The welcome email to ${email} could not be sent: ${delivery?.lastError ?? 'unknown reason'}.`}
      </p>
      {error && (
        <p role="alert" className="error">
          {describeError(error)}
        </p>
      )}
    </section>
  );
}

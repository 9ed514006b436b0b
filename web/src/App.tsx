import { useState } from 'react';
import { AccessToken } from './AccessToken';
import { SignUpForm, type SignedUp } from './SignUpForm';
import { UserList } from './UserList';
import { WelcomeStatus } from './WelcomeStatus';

export function App() {
  const [signedUp, setSignedUp] = useState<SignedUp | null>(null);
  const [signedIn, setSignedIn] = useState(false);
  return (
    <main>
      <h1>Sign up</h1>
      <SignUpForm onSignedUp={setSignedUp} />
      {signedUp &&
        (signedIn ? (
          <WelcomeStatus key={signedUp.id} userId={signedUp.id} email={signedUp.email} />
        ) : (
          <p className="status" role="status" data-status="SIGNED_UP">
            {`Signed up. A welcome email is on its way to ${signedUp.email}.`}
          </p>
        ))}
      <h2>Signed-in view</h2>
      <AccessToken signedIn={signedIn} onChange={setSignedIn} />
      {signedIn ? <UserList /> : <p>Sign in with a token that has the users:read scope to see the users and their addresses.</p>}
    </main>
  );
}

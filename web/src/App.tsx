import { useState } from 'react';
import { SignUpForm, type SignedUp } from './SignUpForm';
import { UserList } from './UserList';
import { WelcomeStatus } from './WelcomeStatus';

export function App() {
  const [signedUp, setSignedUp] = useState<SignedUp | null>(null);
  return (
    <main>
      <h1>Sign up</h1>
      <SignUpForm onSignedUp={setSignedUp} />
      {signedUp && <WelcomeStatus key={signedUp.id} userId={signedUp.id} email={signedUp.email} />}
      <UserList />
    </main>
  );
}

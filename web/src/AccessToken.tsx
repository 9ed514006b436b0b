import { useState, type FormEvent } from 'react';
import { setAccessToken } from './apollo';

/** Signing in, as far as this page goes: an access token pasted in (`npm run token` prints one in development). */
export function AccessToken({ signedIn, onChange }: { signedIn: boolean; onChange: (signedIn: boolean) => void }) {
  const [busy, setBusy] = useState(false);
  const apply = async (token: string | null) => {
    setBusy(true);
    try {
      await setAccessToken(token);
    } finally {
      setBusy(false);
    }
    onChange(token !== null);
  };
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const token = String(new FormData(event.currentTarget).get('token') ?? '').trim();
    if (token) void apply(token);
  };

  if (signedIn) {
    return (
      <p>
        Signed in with an access token.{' '}
        <button type="button" disabled={busy} onClick={() => void apply(null)}>
          Sign out
        </button>
      </p>
    );
  }
  return (
    <form onSubmit={onSubmit} aria-label="Sign in">
      <div className="field">
        <label htmlFor="access-token">Access token</label>
        <input id="access-token" name="token" type="password" autoComplete="off" />
      </div>
      <button type="submit" disabled={busy}>
        Sign in
      </button>
    </form>
  );
}

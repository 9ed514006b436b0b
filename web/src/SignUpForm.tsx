import { useMutation } from '@apollo/client/react';
import { useRef, useState, type FormEvent } from 'react';
import { newIdempotencyKey } from './apollo';
import { describeError } from './errors';
import { graphql } from './graphql';
import type { UserErrorCode } from './graphql/graphql';

const SIGN_UP = graphql(`
  mutation SignUp($input: AddUserInput!) {
    addUser(input: $input) {
      user { id name }
      errors { code field message }
    }
  }
`);

type Field = 'name' | 'email';
type FieldErrors = Partial<Record<Field, { code: UserErrorCode; message: string }>>;

export interface SignedUp {
  readonly id: string;
  readonly name: string;
  readonly email: string;
}

/**
 * Name and email; each `UserError` is shown next to the field it names. A sign-up keeps its
 * idempotency key until it has an answer: the client's retries, and the visitor's own click
 * again after an error, send the same key, so a sign-up that did go through is not refused as
 * EMAIL_TAKEN. Other input is another sign-up, with a new key.
 */
export function SignUpForm({ onSignedUp }: { onSignedUp: (user: SignedUp) => void }) {
  const [signUp, { loading }] = useMutation(SIGN_UP, { refetchQueries: ['UserList'] });
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const unanswered = useRef<{ name: string; email: string; idempotencyKey: string } | null>(null);

  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget; // React clears currentTarget once the handler yields
    const form = new FormData(formElement);
    const typed = { name: String(form.get('name') ?? ''), email: String(form.get('email') ?? '') };
    const previous = unanswered.current;
    const input = (unanswered.current =
      previous?.name === typed.name && previous.email === typed.email ? previous : { ...typed, idempotencyKey: newIdempotencyKey() });
    setFormError(null);
    try {
      const { data } = await signUp({ variables: { input } });
      const payload = data?.addUser;
      if (!payload) return;
      unanswered.current = null;
      const next: FieldErrors = {};
      const unplaced: string[] = [];
      for (const { code, field, message } of payload.errors) {
        if (field === 'name' || field === 'email') next[field] ??= { code, message };
        else unplaced.push(message);
      }
      setFieldErrors(next);
      if (unplaced.length > 0) setFormError(unplaced.join(' '));
      if (payload.user) {
        formElement.reset();
        // The address is the one just typed: reading it back from the API needs a token.
        onSignedUp({ ...payload.user, email: input.email.trim() });
      }
    } catch (error) {
      setFormError(describeError(error));
    }
  };

  return (
    <form onSubmit={onSubmit} noValidate aria-label="Sign up">
      <TextField name="name" label="Name" autoComplete="name" error={fieldErrors.name} />
      <TextField name="email" label="Email" type="email" autoComplete="email" error={fieldErrors.email} />
      {formError && (
        <p role="alert" className="error">
          {formError}
        </p>
      )}
      <button type="submit" disabled={loading}>
        {loading ? 'Signing up…' : 'Sign up'}
      </button>
    </form>
  );
}

interface TextFieldProps {
  name: Field;
  label: string;
  type?: 'text' | 'email';
  autoComplete: string;
  error: FieldErrors[Field];
}

function TextField({ name, label, type = 'text', autoComplete, error }: TextFieldProps) {
  const id = `signup-${name}`;
  const errorId = `${id}-error`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        type={type}
        autoComplete={autoComplete}
        required
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? errorId : undefined}
      />
      {error && (
        <p id={errorId} role="alert" className="error" data-code={error.code}>
          {error.message}
        </p>
      )}
    </div>
  );
}

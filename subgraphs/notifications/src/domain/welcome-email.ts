import escapeHtml from 'escape-html';

export interface EmailContent {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

export const welcomeSubject = (name: string): string => `Welcome, ${name}!`;

/** The welcome email; the name is user input, so it is escaped in the HTML part. */
export const renderWelcomeEmail = (name: string): EmailContent => ({
  subject: welcomeSubject(name),
  text: `Hello ${name},\n\nwelcome aboard! Your account is ready.\n`,
  html: `<!doctype html><html><body><p>Hello ${escapeHtml(name)},</p><p>welcome aboard! Your account is ready.</p></body></html>`,
});

/** The domain of the From address names the Message-IDs this service makes. */
export const messageIdDomainOf = (from: string): string => /@([^\s>@]+)>?\s*$/.exec(from)?.[1] ?? 'localhost';

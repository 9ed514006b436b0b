/**
 * When records of the users log are gone before the notifications service read
 * them, it stops there (not ready). This queues a welcome email for every user
 * in the users log's newest snapshot who has none yet, and moves the
 * notifications cursor to that snapshot, past the gap. Run it with the
 * notifications service stopped: `npm run recover:welcome-emails`.
 */
import { loadConfig } from '../lib/config';
import { openLogBackend } from '../lib/log';
import { createLogger } from '../lib/logger';
import { openStore } from '../lib/store';
import { notificationsConfig } from '../subgraphs/notifications/src/config';
import { consumeUserRecords, emptyNotificationsState, messageIdDomainOf, notificationsSnapshotCodec, type NotificationsState } from '../subgraphs/notifications/src/domain';
import { usersAfter, usersSnapshotCodec } from '../subgraphs/users/src/domain';

const PAGE = 10_000;

const main = async (): Promise<string> => {
  const config = loadConfig(notificationsConfig);
  const logger = createLogger({ level: 'warn', pretty: config.NODE_ENV === 'development' });
  const backend = await openLogBackend(config, logger);
  try {
    const snapshot = await backend.readSnapshot('users', logger);
    if (!snapshot) throw new Error('the users log has no snapshot: nothing to recover the missing sign-ups from');
    const users = usersSnapshotCodec.decode(snapshot.chunks);
    const events = [];
    for (let after = 0; ; after += PAGE) {
      const page = usersAfter(users, after, PAGE);
      events.push(...page.users.map((user) => ({ type: 'UserAdded' as const, user })));
      if (!page.hasNextPage) break;
    }
    const store = await openStore<NotificationsState, never>({
      backend,
      stream: 'notifications',
      initial: emptyNotificationsState(),
      codec: notificationsSnapshotCodec,
      logger,
    });
    try {
      const cursor = store.state.cursor;
      if (cursor >= snapshot.version) {
        return `nothing to do: the notifications cursor (${cursor}) is already at or past the users snapshot (${snapshot.version})`;
      }
      const { queued } = await store.execute(
        consumeUserRecords([{ version: snapshot.version, events }], { now: new Date().toISOString(), messageIdDomain: messageIdDomainOf(config.MAIL_FROM) }),
      );
      return (
        `queued ${queued.length} welcome emails for the ${events.length} users of the users snapshot at version ${snapshot.version} ` +
        `(the others had one); the notifications cursor moved from ${cursor} to ${snapshot.version}`
      );
    } finally {
      await store.close();
    }
  } finally {
    await backend.close();
  }
};

main().then(
  (summary) => process.stdout.write(`${summary}\n`),
  (error: unknown) => {
    process.stderr.write(`recover:welcome-emails: ${(error as Error).message}\n`);
    process.exitCode = 1;
  },
);

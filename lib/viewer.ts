/** Who is asking, as the gateway verified it: the owning subgraph decides what that entitles them to. */
export interface Viewer {
  /** The user of this system the token names, when its user claim holds one. */
  readonly userId: string | undefined;
  readonly scopes: ReadonlySet<string>;
}

/** Whether `viewer` is the user `userId` or holds `scope`: the rule for a user's own records. */
export const isSelfOrHasScope = (viewer: Viewer | undefined, userId: string, scope: string): boolean =>
  viewer !== undefined && (viewer.userId === userId || viewer.scopes.has(scope));

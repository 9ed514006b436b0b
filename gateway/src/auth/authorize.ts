import {
  GraphQLError,
  Kind,
  getNamedType,
  isAbstractType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  type DefinitionNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type OperationTypeNode,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Viewer } from '../../../lib/viewer';
import { bothOf, isSatisfied, type Policy, type Requirement } from './policy';

export const UNAUTHORIZED_FIELD_OR_TYPE = 'UNAUTHORIZED_FIELD_OR_TYPE';

/** Past this many, further unauthorized paths of one operation are not listed. */
const MAX_DENIALS = 100;

export interface Authorization {
  /** The operation to plan: each unauthorized field stands as `<its key>: __typename`, so no subgraph is asked for it. */
  readonly document: DocumentNode;
  /** Where the unauthorized fields are, as Apollo Router reports them: response keys, `@` for a list, `... on T` for a fragment. */
  readonly denied: readonly (readonly string[])[];
  /** Nothing the operation asks for is authorized. */
  readonly nothingAuthorized: boolean;
  /** The stand-in fields, each with whether the field it replaced was non-null (its null then propagates). */
  readonly standIns: ReadonlyMap<FieldNode, boolean>;
}

export const unauthorizedError = (path: readonly string[]) =>
  new GraphQLError('Unauthorized field or type', { path, extensions: { code: UNAUTHORIZED_FIELD_OR_TYPE } });

interface Rewritten {
  readonly selectionSet: SelectionSetNode;
  /** Whether anything the caller may see is left. */
  readonly authorized: boolean;
  /** Unauthorized paths relative to this selection set. */
  readonly denied: readonly (readonly string[])[];
}

const listMarks = (type: GraphQLOutputType): string[] => {
  const marks: string[] = [];
  for (let current = type; ; ) {
    if (isNonNullType(current)) current = current.ofType;
    else if (isListType(current)) {
      marks.push('@');
      current = current.ofType;
    } else return marks;
  }
};

const standInFor = (field: FieldNode): FieldNode => ({
  kind: Kind.FIELD,
  alias: { kind: Kind.NAME, value: field.alias?.value ?? field.name.value },
  name: { kind: Kind.NAME, value: '__typename' },
  ...(field.directives?.length ? { directives: field.directives } : {}),
});

/**
 * Applies a policy to one operation for one viewer, as Apollo Router's
 * authorization plugin does: fields and types the viewer may not see are taken
 * out before planning, and `nullDenied` then answers them with null.
 */
export const authorizeOperation = (
  schema: GraphQLSchema,
  policy: Policy,
  document: DocumentNode,
  operationName: string | undefined,
  viewer: Viewer | undefined,
): Authorization => {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName === undefined ? operations[0] : operations.find((d) => d.name?.value === operationName);
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) return { document, denied: [], nothingAuthorized: false, standIns: new Map() };

  const requirements = new Map<string, Requirement | undefined>();
  const typeRequirement = (type: GraphQLNamedType): Requirement | undefined => {
    let found = policy.get(type.name);
    if (isAbstractType(type)) for (const possible of schema.getPossibleTypes(type)) found = bothOf(found, policy.get(possible.name));
    return found;
  };
  /**
   * The field's own requirement and its type's; on an interface, every
   * implementation's too, since any of them may answer. A field of abstract
   * type is judged by the fragments that select from it.
   */
  const fieldRequirement = (parent: GraphQLCompositeType, name: string, type: GraphQLOutputType): Requirement | undefined => {
    const coordinate = `${parent.name}.${name}`;
    if (requirements.has(coordinate)) return requirements.get(coordinate);
    const named = getNamedType(type);
    let found = bothOf(policy.get(coordinate), isAbstractType(named) ? undefined : policy.get(named.name));
    if (isInterfaceType(parent)) {
      for (const possible of schema.getPossibleTypes(parent)) {
        found = bothOf(found, bothOf(policy.get(possible.name), policy.get(`${possible.name}.${name}`)));
      }
    }
    requirements.set(coordinate, found);
    return found;
  };
  const allowed = (requirement: Requirement | undefined) => requirement === undefined || isSatisfied(requirement, viewer);

  const standIns = new Map<FieldNode, boolean>();
  const rewrittenFragments = new Map<string, Rewritten | null>();
  const prefixed = (prefix: readonly string[], paths: readonly (readonly string[])[], into: (readonly string[])[]) => {
    for (const path of paths) if (into.length < MAX_DENIALS) into.push([...prefix, ...path]);
  };

  /** `null`: the fragment's type itself is not authorized. */
  const rewriteFragment = (name: string): Rewritten | null => {
    if (rewrittenFragments.has(name)) return rewrittenFragments.get(name)!;
    const definition = fragments.get(name)!;
    const type = schema.getType(definition.typeCondition.name.value) as GraphQLCompositeType;
    const result = allowed(typeRequirement(type)) ? rewrite(definition.selectionSet, type) : null;
    rewrittenFragments.set(name, result);
    return result;
  };

  const rewrite = (selectionSet: SelectionSetNode, parent: GraphQLCompositeType): Rewritten => {
    const selections: SelectionNode[] = [];
    const denied: (readonly string[])[] = [];
    let authorized = false;
    const fields = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields() : {};
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const definition = fields[selection.name.value];
        const key = selection.alias?.value ?? selection.name.value;
        if (!definition) {
          // __typename, or a field validation let through that is not ours to judge.
          selections.push(selection);
          authorized = true;
        } else if (!allowed(fieldRequirement(parent, selection.name.value, definition.type))) {
          const standIn = standInFor(selection);
          standIns.set(standIn, isNonNullType(definition.type));
          selections.push(standIn);
          if (denied.length < MAX_DENIALS) denied.push([key]);
        } else if (selection.selectionSet) {
          const inner = rewrite(selection.selectionSet, getNamedType(definition.type) as GraphQLCompositeType);
          selections.push(inner.selectionSet === selection.selectionSet ? selection : { ...selection, selectionSet: inner.selectionSet });
          prefixed([key, ...listMarks(definition.type)], inner.denied, denied);
          authorized ||= inner.authorized;
        } else {
          selections.push(selection);
          authorized = true;
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? (schema.getType(selection.typeCondition.name.value) as GraphQLCompositeType) : parent;
        if (!allowed(typeRequirement(type))) {
          if (denied.length < MAX_DENIALS) denied.push([`... on ${type.name}`]);
          continue;
        }
        const inner = rewrite(selection.selectionSet, type);
        selections.push(inner.selectionSet === selection.selectionSet ? selection : { ...selection, selectionSet: inner.selectionSet });
        prefixed([], inner.denied, denied);
        authorized ||= inner.authorized;
      } else {
        const inner = rewriteFragment(selection.name.value);
        if (!inner) {
          if (denied.length < MAX_DENIALS) denied.push([`... on ${fragments.get(selection.name.value)!.typeCondition.name.value}`]);
          continue;
        }
        selections.push(selection);
        prefixed([], inner.denied, denied);
        authorized ||= inner.authorized;
      }
    }
    const unchanged = selections.length === selectionSet.selections.length && selections.every((s, i) => s === selectionSet.selections[i]);
    return { selectionSet: unchanged ? selectionSet : { ...selectionSet, selections }, authorized, denied };
  };

  const top = rewrite(operation.selectionSet, root);
  if (top.denied.length === 0) return { document, denied: [], nothingAuthorized: false, standIns };
  const definitions = document.definitions.flatMap((definition): DefinitionNode[] => {
    if (definition === operation) return [{ ...operation, selectionSet: top.selectionSet }];
    if (definition.kind === Kind.OPERATION_DEFINITION) return [];
    if (definition.kind !== Kind.FRAGMENT_DEFINITION) return [definition];
    const rewritten = rewrittenFragments.get(definition.name.value);
    // A fragment no one spreads any more would fail the planner's validation.
    return rewritten ? [{ ...definition, selectionSet: rewritten.selectionSet }] : [];
  });
  return { document: { ...document, definitions }, denied: top.denied, nothingAuthorized: !top.authorized, standIns };
};

const BUBBLE = Symbol('null bubbles up');

/**
 * Answers each stand-in field with null, and lets a null in a non-null field
 * propagate to the nearest nullable parent, as GraphQL execution would.
 * Returns the data to send (null when the null reached the root).
 */
export const nullDenied = (
  schema: GraphQLSchema,
  authorization: Authorization,
  operationType: OperationTypeNode,
  data: Record<string, unknown>,
): Record<string, unknown> | null => {
  const fragments = new Map(
    authorization.document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  const operation = authorization.document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;

  const applies = (condition: string | undefined, parent: GraphQLCompositeType, object: Record<string, unknown>): [boolean, GraphQLCompositeType] => {
    if (condition === undefined) return [true, parent];
    const type = schema.getType(condition) as GraphQLCompositeType;
    const runtime = isObjectType(parent) ? parent : schema.getType(String(object.__typename));
    // Without __typename an abstract parent's runtime type is unknown: the fragment's fields are checked as if it applied.
    if (!runtime || !isObjectType(runtime)) return [true, type];
    return [type === runtime || (isAbstractType(type) && schema.isSubType(type, runtime)), type];
  };

  const value = (item: unknown, type: GraphQLOutputType, selectionSet: SelectionSetNode): unknown => {
    if (item === null || item === undefined) return item;
    const inner = isNonNullType(type) ? type.ofType : type;
    if (isListType(inner)) {
      const list = item as unknown[];
      for (let i = 0; i < list.length; i++) {
        if (value(list[i], inner.ofType, selectionSet) !== BUBBLE) continue;
        if (isNonNullType(inner.ofType)) return BUBBLE;
        list[i] = null;
      }
      return item;
    }
    return object(item as Record<string, unknown>, selectionSet, getNamedType(inner) as GraphQLCompositeType);
  };

  const object = (target: Record<string, unknown>, selectionSet: SelectionSetNode, parent: GraphQLCompositeType): unknown => {
    const fields = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields() : {};
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const key = selection.alias?.value ?? selection.name.value;
        if (!(key in target)) continue;
        const nonNull = authorization.standIns.get(selection);
        if (nonNull !== undefined) {
          target[key] = null;
          if (nonNull) return BUBBLE;
          continue;
        }
        const definition = fields[selection.name.value];
        if (!selection.selectionSet || !definition) continue;
        if (value(target[key], definition.type, selection.selectionSet) === BUBBLE) {
          target[key] = null;
          if (isNonNullType(definition.type)) return BUBBLE;
        }
      } else {
        const fragment = selection.kind === Kind.INLINE_FRAGMENT ? selection : fragments.get(selection.name.value)!;
        const [applied, type] = applies(fragment.typeCondition?.name.value, parent, target);
        if (applied && object(target, fragment.selectionSet, type) === BUBBLE) return BUBBLE;
      }
    }
    return target;
  };

  const root = schema.getRootType(operationType)!;
  return object(data, operation.selectionSet, root) === BUBBLE ? null : data;
};

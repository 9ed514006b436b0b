import type { Resolvers } from '../generated/resolvers-types';
import { Mutation } from './Mutation';
import { Query } from './Query';
import { User } from './User';

export const resolvers: Resolvers = { Mutation, Query, User };

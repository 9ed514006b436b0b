import type { Resolvers } from '../generated/resolvers-types';
import { Mutation } from './Mutation';
import { User } from './User';

export const resolvers: Resolvers = { Mutation, User };

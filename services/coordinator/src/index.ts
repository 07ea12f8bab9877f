export { createApp, type AppDeps } from './app.ts';
export { Placer, type PlacementDeps, type PlacementOptions } from './placement.ts';
export { Tasks } from './tasks/tasks.ts';
export { MemoryTaskStore, type Task, type TaskStore } from './tasks/store.ts';
export { clientsOverTls, type ClientsFor, type NodeAddress } from './clients.ts';

export { createApp, type StorageDeps } from './app.ts';
export { TaskDiskStore, type TaskDisks, type TaskDisksRequest } from './disks.ts';
export { ImageLibrary, builtinImageIds, type Image, type ImageRecord } from './images.ts';
export { StorageLayout, safeJoin, lexicalJoin, isTaskId, isImageId } from './paths.ts';
export { QemuImg } from './qemu-img.ts';
export { runTool, type RunTool } from './tool.ts';
export { statfsFreeBytes, type FreeBytes } from './capacity.ts';

// Generated from openapi/storage.yaml by scripts/gen-openapi.mjs; do not edit.
export interface paths {
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness and readiness of this service. */
        get: operations["health"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/images": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The images a task may boot. */
        get: operations["listImages"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/images/{imageId}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                imageId: components["schemas"]["ImageId"];
            };
            cookie?: never;
        };
        get: operations["getImage"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/capacity": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The space new task disks may still be given on this peer.
         * @description Task disks are thin (qcow2): each may grow to its full size, so what they may still grow by
         *     is counted as promised. A PUT /disks whose diskMiB exceeds availableMiB answers
         *     insufficient-capacity.
         */
        get: operations["getCapacity"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/disks/{taskId}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        get: operations["getTaskDisks"];
        /** Create the disks of a task (idempotent by task id). */
        put: operations["createTaskDisks"];
        post?: never;
        /** Discard every disk of a task (idempotent). */
        delete: operations["discardTaskDisks"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** @description RFC 9457 problem details; `type` is a stable urn:cps:problem:* identifier. */
        Problem: {
            /** @example urn:cps:problem:validation-failed */
            type: string;
            title: string;
            status: number;
            detail?: string;
            instance?: string;
            errors?: {
                location: string;
                message: string;
            }[];
        } & {
            [key: string]: unknown;
        };
        Health: {
            /** @enum {string} */
            status: "ok" | "unhealthy";
            service: string;
            detail?: string;
        } & {
            [key: string]: unknown;
        };
        TaskId: string;
        ImageId: string;
        Image: {
            id: components["schemas"]["ImageId"];
            name: string;
            description?: string;
            /**
             * @description kernel: boots a kernel+initrd; disk: a bootable disk image; iso: a CD-ROM.
             * @enum {string}
             */
            kind: "kernel" | "disk" | "iso";
            /** @enum {string} */
            format?: "qcow2" | "raw" | "iso";
            builtin: boolean;
            sizeBytes: number;
            sha256?: string;
        };
        StorageCapacity: {
            /** @description Free on the data dir's file system now. */
            freeBytes: number;
            /** @description Kept back for the host (CPS_STORAGE_RESERVE_MIB). */
            reserveBytes: number;
            /** @description What existing task disks may still grow by. */
            promisedBytes: number;
            /** @description The largest diskMiB a new task may ask for. */
            availableMiB: number;
        };
        TaskDisksRequest: {
            image: components["schemas"]["ImageId"];
            diskMiB: number;
        };
        DiskSpec: {
            path: string;
            /** @enum {string} */
            format: "qcow2" | "raw";
            /** @enum {string} */
            device: "disk" | "cdrom";
            readonly?: boolean;
        };
        BootSpec: {
            /** @constant */
            kind: "kernel";
            kernel: string;
            initrd: string;
            cmdline?: string;
        } | {
            /** @enum {unknown} */
            kind: "disk" | "cdrom";
        };
        TaskDisks: {
            taskId: components["schemas"]["TaskId"];
            image: components["schemas"]["ImageId"];
            disks: components["schemas"]["DiskSpec"][];
            boot: components["schemas"]["BootSpec"];
        };
    };
    responses: {
        /** @description An error, as RFC 9457 problem details. */
        Problem: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
    };
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    health: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Healthy. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
            /** @description Unhealthy. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
        };
    };
    listImages: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description All images. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Image"][];
                    };
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    getImage: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                imageId: components["schemas"]["ImageId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The image. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Image"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    getCapacity: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The data dir's space. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["StorageCapacity"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    getTaskDisks: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The task's disks. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskDisks"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    createTaskDisks: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TaskDisksRequest"];
            };
        };
        responses: {
            /** @description The disks already existed. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskDisks"];
                };
            };
            /** @description The disks were created. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskDisks"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    discardTaskDisks: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Discarded. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Problem"];
        };
    };
}

// Generated from openapi/coordinator.yaml by scripts/gen-openapi.mjs; do not edit.
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
    "/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The portal page. */
        get: operations["getPortal"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/portal/{asset}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The portal's script and style sheet (portal.js, portal.css). */
        get: operations["getPortalAsset"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/images": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The images a task may boot (from this node's storage). */
        get: operations["listImages"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["listTasks"];
        put?: never;
        /** Ask for a machine. Answers at once; follow the task's state through /api/events or polling. */
        post: operations["submitTask"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks/{taskId}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        get: operations["getTask"];
        put?: never;
        post?: never;
        /** Stop the task; its guest is destroyed and its disks discarded. Answers at once. */
        delete: operations["stopTask"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks/{taskId}/serial": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /** The guest's serial console output so far. */
        get: operations["getTaskSerial"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Server-sent events; each `task` event carries a whole Task as JSON. */
        get: operations["streamEvents"];
        put?: never;
        post?: never;
        delete?: never;
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
        Image: {
            id: string;
            name: string;
            description?: string;
            /** @enum {string} */
            kind: "kernel" | "disk" | "iso";
        };
        TaskRequest: {
            /** @description Any printable text (no control characters, no line or paragraph separators, no U+FFFE/U+FFFF, no lone UTF-16 surrogates: the rule of packages/common/src/names.ts, the same as VmSpec.name of the provisioner); shown to the user, never used as an identifier. */
            name: string;
            /** @default 1 */
            vcpus: number;
            /** @default 256 */
            memoryMiB: number;
            /** @default 64 */
            diskMiB: number;
            /** @default tiny */
            image: string;
        };
        /** @enum {string} */
        TaskState: "pending" | "placing" | "starting" | "running" | "stopping" | "stopped" | "failed";
        NodeRef: {
            nodeId: string;
            address: string;
            /** @description The node's service ports, so the task can be followed and stopped there. */
            ports?: {
                coordinator: number;
                discovery: number;
                provisioner: number;
                storage: number;
                vncGateway: number;
            };
        };
        Task: {
            id: components["schemas"]["TaskId"];
            name: string;
            state: components["schemas"]["TaskState"];
            request: {
                vcpus: number;
                memoryMiB: number;
                diskMiB: number;
                image: string;
            };
            node?: components["schemas"]["NodeRef"];
            backups?: components["schemas"]["NodeRef"][];
            console?: {
                /** @description The noVNC page of this task's guest. */
                vncUrl: string;
            };
            error?: components["schemas"]["Problem"];
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
            history: {
                state: components["schemas"]["TaskState"];
                /** Format: date-time */
                at: string;
                message?: string;
            }[];
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
    getPortal: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTML. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
        };
    };
    getPortalAsset: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                asset: "portal.js" | "portal.css";
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The file. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/javascript": string;
                    "text/css": string;
                };
            };
            default: components["responses"]["Problem"];
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
            /** @description Images. */
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
    listTasks: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every task this coordinator knows, newest first. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Task"][];
                    };
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    submitTask: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TaskRequest"];
            };
        };
        responses: {
            /** @description Accepted; the task is pending. */
            202: {
                headers: {
                    /** @description The task's URL. */
                    Location?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Task"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    getTask: {
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
            /** @description The task. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Task"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    stopTask: {
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
            /** @description Stopping. */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Task"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    getTaskSerial: {
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
            /** @description Text. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    streamEvents: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description An event stream. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
        };
    };
}

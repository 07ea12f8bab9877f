// Generated from openapi/vnc-gateway.yaml by scripts/gen-openapi.mjs; do not edit.
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
    "/console/{taskId}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /**
         * The noVNC page showing the guest's screen.
         * @description 404 when no guest of this task runs on this peer; 400 when the task id breaks the pattern.
         *     The page's element `#status` shows `connecting`, `connected` or `disconnected: <reason>`
         *     (its `data-state` attribute holds the bare state).
         */
        get: operations["getConsolePage"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/console/{taskId}/websockify": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /**
         * WebSocket upgrade carrying the guest's RFB stream (binary frames).
         * @description The guest's VNC address is looked up and dialled before the upgrade is accepted, so a refusal
         *     is an ordinary problem+json response: 404 (no such guest here), 409 (the guest is off, or has no VNC port yet),
         *     502 (the provisioner failed, named a non-loopback address, or the VNC port refused).
         *     A task this peer does not run but the local coordinator places on another peer is carried on to
         *     that peer's gateway (its member-only `/hop/{taskId}`, over the cluster's mutual TLS), whose
         *     refusal is then relayed with its detail. 429 (`console-limit`) when the task has as many
         *     consoles open as CPS_CONSOLE_MAX_PER_TASK allows. A plain GET
         *     without `Upgrade: websocket` runs the same checks (dialling and at once closing the VNC port)
         *     and then answers 400, so a page can learn why its upgrade failed.
         *     Once open, the socket closes with 1000 when the guest's VNC server ends the stream, 1011 on a
         *     VNC connection error, and 1003 when the client sends a text frame; the close reason says why.
         */
        get: operations["openConsoleSocket"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/hop/{taskId}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /**
         * The hop between gateways - WebSocket upgrade carrying a guest's RFB stream to another member's gateway.
         * @description For members only (mutual TLS with a node certificate of this cluster): the gateway a browser
         *     talks to opens this on the gateway of the peer that runs the task. Served from this peer's
         *     guests only, never hopped again; refusals as for the browser's socket.
         */
        get: operations["openHopSocket"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/novnc/{path}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A file of the noVNC library. */
        get: operations["getNovncFile"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/console-assets/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The console page's script and style sheet. */
        get: operations["getConsoleAsset"];
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
        /** @description The path parameters of the console routes. */
        ConsolePath: {
            taskId: components["schemas"]["TaskId"];
        };
        TaskId: string;
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
    getConsolePage: {
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
            /** @description An HTML page. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    openConsoleSocket: {
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
            /** @description Switching protocols. */
            101: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Problem"];
        };
    };
    openHopSocket: {
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
            /** @description Switching protocols. */
            101: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Problem"];
        };
    };
    getNovncFile: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                path: string;
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
                content?: never;
            };
            default: components["responses"]["Problem"];
        };
    };
    getConsoleAsset: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
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
                content?: never;
            };
            default: components["responses"]["Problem"];
        };
    };
}

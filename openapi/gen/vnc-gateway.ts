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
            query?: {
                /** @description A console ticket (kind vnc) the coordinator issued (POST /api/tasks/{taskId}/console-ticket): required, single use. */
                ticket?: string;
            };
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /**
         * WebSocket upgrade carrying the guest's RFB stream (binary frames).
         * @description First the ticket (before anything is looked up or dialled): 403 `console-ticket-refused`
         *     with `reason` missing, malformed, forged, expired, wrong-task, wrong-kind or replayed (a
         *     ticket opens one console; a plain GET uses it up too). Then the caps: 429 `console-limit`
         *     with `per: task` (CPS_CONSOLE_MAX_PER_TASK) or `per: user` (CPS_CONSOLE_MAX_PER_USER, the
         *     ticket's user, desktops and serial consoles together). A member (the portal of this node
         *     carrying a browser's console, over mutual TLS) passes the Host and Origin checks: its own
         *     door made them against the portal's names.
         *     The guest's VNC address is looked up and dialled before the upgrade is accepted, so a refusal
         *     is an ordinary problem+json response: 404 (no such guest here), 409 (the guest is off, or has no VNC port yet),
         *     502 (the provisioner failed, named a non-loopback address, or the VNC port refused).
         *     A task this peer does not run but the local coordinator places on another peer is carried on to
         *     that peer's gateway (its member-only `/hop/{taskId}`, over the cluster's mutual TLS), whose
         *     refusal is then relayed with its detail. 429 (`console-limit`) when the task has as many
         *     consoles open as CPS_CONSOLE_MAX_PER_TASK allows. A plain GET
         *     without `Upgrade: websocket` runs the same checks (dialling and at once closing the VNC port)
         *     and then answers 400, so a page can learn why its upgrade failed.
         *     Once open, the socket closes with 1000 when the guest's VNC server ends the stream, 1011 on a
         *     VNC connection error, 1003 when the client sends a text frame, 4000 after CPS_CONSOLE_IDLE_SEC
         *     without input (keys, pointer, clipboard), and 1001 when the gateway shuts down; the close
         *     reason says why. The viewer's ClientInit always asks for a shared session, whatever the
         *     browser sent, so no viewer can make the guest's VNC server drop the others.
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
         *     talks to opens this on the gateway of the peer that runs the task, with the browser's ticket
         *     in `x-cps-console-ticket` (checked here too: whose console it is, for the per-user cap and
         *     the log). Served from this peer's guests only, never hopped again; refusals as for the
         *     browser's socket.
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
    "/hop/{taskId}/serial": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /**
         * The hop between gateways for a serial console - WebSocket upgrade carrying a guest's serial bytes.
         * @description For members only, like `/hop/{taskId}` (the ticket in `x-cps-console-ticket`): the gateway a
         *     browser talks to opens this on the gateway of the peer that runs the task. Served from this
         *     peer's guests only; refusals as for the browser's serial socket.
         */
        get: operations["openSerialHopSocket"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/serial/{taskId}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /**
         * The terminal page (xterm.js) bridged to the guest's serial port, read and write.
         * @description 404 when no guest of this task runs on this peer or on a peer the local coordinator knows;
         *     409 when the guest has no serial socket (made with a pty serial) or is off. The page's `#status`
         *     shows `connecting`, `connected` or `disconnected: <reason>` (bare state in `data-state`).
         */
        get: operations["getSerialPage"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/serial/{taskId}/socket": {
        parameters: {
            query?: {
                /** @description A console ticket (kind serial): required, single use. */
                ticket?: string;
            };
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /**
         * WebSocket upgrade carrying the guest's serial port both ways.
         * @description The gateway holds one connection to the guest's serial socket per task and shares it: every
         *     viewer gets the guest's output (a new viewer first the last few KiB of it) and what any
         *     viewer types goes to the guest. Frames from the gateway are binary (raw bytes, usually
         *     UTF-8); the browser may send text or binary frames. Refused before the upgrade, as
         *     problem+json: 403 (`console-ticket-refused`, as for the desktop), 404 (no such guest), 409
         *     (no serial socket, guest off), 429 (`console-limit`, as many serial consoles of the task as
         *     CPS_CONSOLE_MAX_PER_TASK allows, or the user's CPS_CONSOLE_MAX_PER_USER), 502 (provisioner
         *     failed, named a socket other than this node's serial folder's, or the socket refused), 403
         *     (foreign Origin or Host). A plain GET runs the same checks and answers 400.
         *     Close codes: 1000 the guest's serial socket closed, 1011 an error on it, 1008 this viewer read
         *     too slowly and held the guest's output back, 4000 no input for CPS_CONSOLE_IDLE_SEC, 1001
         *     the gateway shuts down; the reason says which.
         */
        get: operations["openSerialSocket"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/xterm/{path}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A file of the xterm.js library. */
        get: operations["getXtermFile"];
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
            query?: {
                /** @description A console ticket (kind vnc) the coordinator issued (POST /api/tasks/{taskId}/console-ticket): required, single use. */
                ticket?: string;
            };
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
    openSerialHopSocket: {
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
    getSerialPage: {
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
    openSerialSocket: {
        parameters: {
            query?: {
                /** @description A console ticket (kind serial): required, single use. */
                ticket?: string;
            };
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
    getXtermFile: {
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

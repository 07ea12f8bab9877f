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
        /**
         * Upload an ISO, qcow2 or raw image to this node's storage, streamed (never held whole).
         * @description The body is the image's bytes, passed on as they arrive to this node's storage (POST
         *     /images) with their Content-Length; storage checks the format and keeps the image under an
         *     id derived from its SHA-256. Storage's refusals are passed on as they are: larger than
         *     CPS_STORAGE_MAX_UPLOAD_MIB `payload-too-large`, not an image it accepts `image-rejected`,
         *     cut off or not the declared sha256 `upload-incomplete`. The same bytes again answer 200.
         *     No timeout cuts a slow upload short.
         */
        post: operations["uploadImage"];
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
        /**
         * Ask for a machine. Answers at once; follow the task's state through /api/events or polling.
         * @description With an `Idempotency-Key`, a retried submit (a lost answer, a double click) makes no second
         *     task: the same key with the same body within a day answers 200 with the task the first made;
         *     the same key with another body is refused (422 `idempotency-key-reused`). Keys are per user.
         */
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
        /** Stop the task (its guest is destroyed, its disks discarded; answers at once), or with purge=true delete an ended task's record. */
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
        /** Server-sent events; each `task` event carries a whole Task as JSON (the caller's tasks only; an admin's, all). */
        get: operations["streamEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks/{taskId}/suspend": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Pause the guest (running → suspended); it keeps its memory and its host slot.
         * @description Allowed while running; a suspended task answers as it is (idempotent). The guest gets no CPU time
         *     until resumed.
         *     No body: send `x-cps-request: 1` (or `content-type: application/json` with `{}`), as any POST
         *     must that no cross-site form could have sent.
         */
        post: operations["suspendTask"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks/{taskId}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Let a suspended guest run again (suspended → running).
         * @description Allowed while suspended; a running task answers as it is (idempotent).
         *     No body: send `x-cps-request: 1` (or `content-type: application/json` with `{}`), as any POST
         *     must that no cross-site form could have sent.
         */
        post: operations["resumeTask"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks/{taskId}/checkpoint": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Save the guest's whole state (libvirt save) and let it run on; the task gains lastCheckpointAt.
         * @description Allowed while running. Answers once the state file is written on the task's host (a few seconds
         *     per GiB of memory); the guest pauses meanwhile.
         *     No body: send `x-cps-request: 1` (or `content-type: application/json` with `{}`), as any POST
         *     must that no cross-site form could have sent.
         */
        post: operations["checkpointTask"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks/{taskId}/restart": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Hard reset: the guest is destroyed and created again with the same spec on the same host; its disks are kept.
         * @description Allowed while running or suspended; the task is running again afterwards (what the guest had not
         *     written to disk is lost, as with a power cut).
         *     No body: send `x-cps-request: 1` (or `content-type: application/json` with `{}`), as any POST
         *     must that no cross-site form could have sent.
         */
        post: operations["restartTask"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks/{taskId}/events": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /** Server-sent events of one task; each `task` event carries the whole Task (the first at once). */
        get: operations["streamTaskEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks/{taskId}/download": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /** The files of the compressed copy kept of an ended task's disks (submitted with keepCopy). */
        get: operations["getTaskDownload"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks/{taskId}/download/{fileName}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
                fileName: components["schemas"]["DownloadFileName"];
            };
            cookie?: never;
        };
        /** One file of the kept copy (a compressed qcow2), streamed from the task's host; supports Range and If-Range. */
        get: operations["downloadTaskFile"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/bootstraps": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Upload a task's bootstrap files (one tar, or several files); answers the id a task request names.
         * @description Either one tar archive (`application/x-tar`) or several files (`multipart/form-data`, each
         *     part a file; the part's filename may be a relative path such as `lib/util.sh`), which the
         *     coordinator packs into a tar. Regular files and folders only: an absolute name, a `..` part,
         *     a link, device or fifo is refused (`archive-rejected`), the way every node's storage checks
         *     it. The id is derived from the archive's SHA-256, so every node's storage gives it the same
         *     id; the coordinator keeps the archive and sends it to the node a task is placed on. A form
         *     (a CORS-simple type) must carry `x-cps-request: 1`, as CPS's own clients do. Larger
         *     than CPS_BOOTSTRAP_MAX_MIB or more than CPS_BOOTSTRAP_MAX_FILES files: `payload-too-large`.
         *     The same archive again answers 200.
         */
        post: operations["uploadBootstrap"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/docs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The API reference (Swagger UI, served from this node; no other host is loaded). */
        get: operations["getApiReference"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/docs/{asset}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The reference page's script and style sheet (Swagger UI's bundle, from node_modules, and the page's own start script). */
        get: operations["getApiReferenceAsset"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi/{file}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The OpenAPI contracts this node's services follow, as written (YAML). */
        get: operations["getContract"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/orphans": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Guests this coordinator placed that no task of its registry knows (admin).
         * @description Found when the coordinator reconciles its registry with what every live peer runs (on start,
         *     and again while a peer has not answered): a guest whose `placedBy` is this node but whose task
         *     id the registry does not hold (its row was lost). Guests placed by another coordinator are
         *     never listed.
         */
        get: operations["listOrphans"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/orphans/{taskId}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Destroy an orphan guest and discard its disks on its node (admin). */
        delete: operations["destroyOrphan"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/orphans/{taskId}/adopt": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Make an orphan guest a running task again (admin), owned by the admin or the user named.
         * @description The task keeps the guest's task id; its spec is read from the provisioner (name, vCPUs,
         *     memory) and storage (the image) of the node that runs it. Quotas are not checked: an admin
         *     decides.
         */
        post: operations["adoptOrphan"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/portal/modules/{module}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One of the portal's script modules. */
        get: operations["getPortalModule"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/head": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * This node's view of the head (the one coordinator of the LAN that every other forwards the API to).
         * @description Answered by the node asked, never forwarded: `role` is this node's own (`head`, or
         *     `follower` while another node leads or none is known yet), `head` the node that leads in its
         *     view (null when none is known: the API then answers 503 `no-head`), `epoch` that head's
         *     term, `since` when this node last saw the role or the head change, and `mode` where the
         *     head's lease is kept (`dns`: CPS_HEAD_DNS_* set; `discovery`: the HELLOs alone).
         */
        get: operations["getHead"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/peers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every peer this node's discovery knows (itself first), what each lends, its load, whether its owner is busy, its uptime and its tasks. */
        get: operations["listClusterPeers"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/images/builds": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Build an image from Debian's packages on this node's storage (admin); poll GET /api/images/builds/{recipe}.
         * @description Passed to this node's storage (POST /images/builds): mmdebstrap and the recipe run there in
         *     the background; a build of unchanged inputs ends within seconds (cached). 202 when this call
         *     started it, 200 with the running build when one was already running.
         */
        post: operations["startImageBuild"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/images/builds/{recipe}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                recipe: components["schemas"]["ImageRecipeId"];
            };
            cookie?: never;
        };
        /** The latest build of a recipe on this node's storage, with its progress lines (admin). */
        get: operations["getImageBuild"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/join-tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The join tokens this node issued, with their state (admin). */
        get: operations["listClusterJoinTokens"];
        put?: never;
        /** Make a one-time join token for a new workstation (admin); the answer holds the `cps up --join ...` command to run there. */
        post: operations["createClusterJoinToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/join-tokens/{tokenId}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                tokenId: components["schemas"]["JoinTokenId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Revoke a join token (admin); a join with it is refused from then on. */
        delete: operations["revokeClusterJoinToken"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks/{taskId}/console-ticket": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A short-lived, single-use ticket for one console (desktop or serial) of the caller's task.
         * @description For the task's owner or an admin (another user's task is 404). The ticket is bound to the
         *     task, the user and the kind of console and expires after at most 40 s; any member's gateway
         *     checks it on its own (an HS256 signature with a key every member derives from the cluster
         *     CA's key, docs/trust.md) and accepts it once. The console page asks for one itself before
         *     each connection; open the socket at `url` (relative to the portal) within `expiresAt`.
         *     409 when the task has no running guest.
         */
        post: operations["createConsoleTicket"];
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
        /** The noVNC page of the task's guest (this node's gateway's page, on the portal's origin). */
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
                /** @description A ticket from POST /api/tasks/{taskId}/console-ticket (kind vnc). */
                ticket?: string;
            };
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /**
         * WebSocket upgrade carrying the guest's RFB stream, through this node's gateway (and the hop to the guest's host).
         * @description The answers are the gateway's (openapi/vnc-gateway.yaml): 403 `console-ticket-refused`
         *     with `reason` (missing, malformed, forged, expired, wrong-task, wrong-kind, replayed), 429
         *     `console-limit` (per task or per user), 404, 409, 502. 502 `upstream-failed` also when this
         *     node's gateway cannot be reached. A plain GET runs the same checks (and uses the ticket up).
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
    "/serial/{taskId}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /** The serial terminal page (xterm.js) of the task's guest. */
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
                /** @description A ticket from POST /api/tasks/{taskId}/console-ticket (kind serial). */
                ticket?: string;
            };
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /**
         * WebSocket upgrade carrying the guest's serial port both ways, through this node's gateway.
         * @description Answers as for `/console/{taskId}/websockify`.
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
    "/console-assets/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The console pages' script and style sheet. */
        get: operations["getConsoleAsset"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/session": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Sign in with a name and password; sets the session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS). */
        post: operations["signIn"];
        /** Sign out; the session ends and the cookie is cleared. Answers 204 even without a session. */
        delete: operations["signOut"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The signed-in user. */
        get: operations["getMe"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller's API tokens (never their secrets). */
        get: operations["listTokens"];
        put?: never;
        /** Make an API token for the caller; its value is shown in this answer only. */
        post: operations["createToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tokens/{tokenId}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                tokenId: components["schemas"]["TokenId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Revoke an API token at once. Revoking a revoked token is a no-op. */
        delete: operations["revokeToken"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every user (admin). */
        get: operations["listUsers"];
        put?: never;
        /** Make a user (admin). Quota fields left out take the defaults. */
        post: operations["createUser"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/users/{userId}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                userId: components["schemas"]["UserId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /** Change a user's role, quota (the fields given), password, or disable/enable them (admin). The last enabled admin stays one. */
        patch: operations["updateUser"];
        trace?: never;
    };
    "/internal/registry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The head's registry as one consistent snapshot, for the followers' replicas (members only).
         * @description Members only (mutual TLS): it holds password, token and session hashes; no user, signed in
         *     or not, ever reaches it. Only the head answers; a follower answers 409 `not-head`. `since`
         *     and `epoch` are the rev and epoch of the snapshot the caller applied last: 204 when the
         *     registry is still at that rev in that term, otherwise the whole snapshot, read in one
         *     transaction. It is built in memory and refused (500) past 64 MiB; see
         *     docs/head.md, "Replication".
         */
        get: operations["getRegistrySnapshot"];
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
        /**
         * @description Every row of the head's replicated registry tables, column names as in SQLite (the
         *     follower checks each row strictly: services/coordinator/src/replica/snapshot-schema.ts).
         */
        RegistrySnapshot: {
            /** @description The registry's revision: moved on by every change of a replicated row. */
            rev: number;
            /** @description The head's term; a newer term's snapshot replaces an older term's whatever the revs. */
            epoch?: number;
            tables: {
                users: components["schemas"]["RegistryRows"];
                tasks: components["schemas"]["RegistryRows"];
                task_history: components["schemas"]["RegistryRows"];
                api_tokens: components["schemas"]["RegistryRows"];
                sessions: components["schemas"]["RegistryRows"];
                idempotency_keys: components["schemas"]["RegistryRows"];
                queue: components["schemas"]["RegistryRows"];
            };
        };
        RegistryRows: {
            [key: string]: string | number | null;
        }[];
        HeadInfo: {
            /** @enum {string} */
            role: "head" | "follower";
            head: {
                nodeId: string;
                /** @description Where its coordinator is reached (discovery's address for it). */
                address: string;
            } | null;
            /** @description The head's term (its fencing token) */
            epoch: number | null;
            /** Format: date-time */
            since: string;
            /** @enum {string} */
            mode: "dns" | "discovery";
            /** @description The last head snapshot of the registry this node applied (a follower's copy; docs/head.md, Replication); absent on a node that never followed. */
            replica?: {
                rev: number;
                epoch?: number;
                /** @description The node id of the head it came from. */
                from: string;
                /**
                 * Format: date-time
                 * @description When it was applied (this node's clock).
                 */
                at: string;
            };
        };
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
            /** @description Uploaded images: the node ids (this one and alive peers) whose storage holds the bytes; a task placed elsewhere fetches them from one first. Absent: built-in or built images (each node has its own) or no peer view. */
            holders?: string[];
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
            /**
             * Format: date-time
             * @description Not placed before this time (a run reserved in advance); the task waits `queued` until then. At most a year ahead; a time past is now.
             */
            notBefore?: string;
            network?: components["schemas"]["TaskNetwork"];
            /** @description Save the guest's state (a checkpoint, the guest left running) this often, in minutes (at most a week). */
            checkpointEveryMin?: number;
            /** @description When the task stops, keep a compressed copy of its disks on its host for download (GET /api/tasks/{taskId}/download). */
            keepCopy?: boolean;
            /** @description cloud-init user-data (NoCloud seed on a CD-ROM labelled cidata), e.g. `#cloud-config` YAML or a script. */
            userData?: string;
            /** @description Files the guest sees as its bootstrap disk (an id from POST /api/bootstraps); the tiny guest runs its run.sh. */
            bootstrap?: string;
        };
        /**
         * @description `user`: one NIC on QEMU's user-mode NAT (outgoing connections only); `none`: no NIC. Left out: the host's default.
         * @enum {string}
         */
        TaskNetwork: "user" | "none";
        /**
         * @description `queued`: waiting for a peer with room, or for its `notBefore` (see Task.queue). `suspended`: the guest is paused (it keeps its memory and host slot) until resumed.
         * @enum {string}
         */
        TaskState: "pending" | "queued" | "placing" | "starting" | "running" | "suspended" | "stopping" | "stopped" | "failed";
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
                /** Format: date-time */
                notBefore?: string;
                network?: components["schemas"]["TaskNetwork"];
                checkpointEveryMin?: number;
                keepCopy?: boolean;
                userData?: string;
                bootstrap?: string;
            };
            /** @description While the task waits (pending or queued): its place in the queue and why it waits. */
            queue?: {
                /** @description 1 = the next to be placed (the order is fair between users: services/coordinator/README.md). */
                position: number;
                /** @description Why it waits, e.g. "needs 4 vCPUs; the largest free peer lends 2". */
                reason: string;
                /**
                 * Format: date-time
                 * @description When it began to wait.
                 */
                since?: string;
            };
            /** @description Who submitted the task (for display); only they and admins see it. Absent on tasks made before accounts. */
            owner?: {
                id: components["schemas"]["UserId"];
                name: components["schemas"]["UserName"];
            };
            node?: components["schemas"]["NodeRef"];
            backups?: components["schemas"]["NodeRef"][];
            console?: {
                /** @description The noVNC page of this task's guest: a path (/console/{taskId}) on the portal's origin, to be joined onto the URL the client reached the coordinator by. */
                vncUrl: string;
            };
            error?: components["schemas"]["Problem"];
            /**
             * Format: date-time
             * @description When the last checkpoint asked through the API was written.
             */
            lastCheckpointAt?: string;
            /**
             * @description Where copies of the task's latest checkpoint are kept, one entry per backup peer that took one
             *     (storage's POST /checkpoints/{taskId}/pull: size and SHA-256 checked, the previous copy kept
             *     until the new one is whole). An entry is replaced only when a newer copy is whole there.
             */
            checkpointCopies?: {
                nodeId: string;
                /**
                 * Format: date-time
                 * @description When the checkpoint this copy holds was written.
                 */
                checkpointAt: string;
                /** Format: date-time */
                copiedAt: string;
                sizeBytes: number;
                /** @description What crossed the network for this copy (unchanged files are not fetched again). */
                bytesMoved: number;
            }[];
            /** @description The guest's IP addresses (its qemu-guest-agent's, loopback left out), asked of its provisioner when the task is read while it runs; absent where the guest has no agent or did not answer. */
            addresses?: {
                interface: string;
                /** @enum {string} */
                family: "ipv4" | "ipv6";
                address: string;
                prefix: number;
            }[];
            download?: components["schemas"]["TaskDownload"];
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
        TaskDownloadFile: {
            name: components["schemas"]["DownloadFileName"];
            sizeBytes: number;
            sha256: string;
        };
        /** @description Where the compressed copy of an ended task's disks is kept (a task submitted with keepCopy). */
        TaskDownload: {
            /** @description The host whose storage keeps the copy. */
            nodeId: string;
            files: components["schemas"]["TaskDownloadFile"][];
            /**
             * Format: date-time
             * @description When the host deletes the copy.
             */
            expiresAt: string;
        };
        TaskDownloadList: {
            files: (components["schemas"]["TaskDownloadFile"] & {
                /** @description The file's download URL on this coordinator (/api/tasks/{taskId}/download/{name}). */
                url: string;
            })[];
            /** Format: date-time */
            expiresAt: string;
        };
        DownloadFileName: string;
        /** @description A label for people; never a path. */
        UploadImageName: string;
        /** @enum {string} */
        UploadFormat: "qcow2" | "raw" | "iso";
        Sha256: string;
        /** @description The image as this node's storage keeps it (storage's Image). */
        UploadedImage: {
            id: string;
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
        BootstrapUpload: {
            /** @description What a task request names (`bootstrap`); the same on every node. */
            id: string;
            /** @description The archive's size. */
            sizeBytes: number;
            /** @description The paths of the files in the archive. */
            files: string[];
        };
        Orphan: {
            taskId: components["schemas"]["TaskId"];
            node: components["schemas"]["NodeRef"];
            /** @description The guest's name (the domain's title). */
            name: string;
            /** @description The guest's state as its provisioner says it (running, paused, ...). */
            state: string;
            vcpus?: number;
            memoryMiB?: number;
            /**
             * Format: date-time
             * @description When this coordinator first found it.
             */
            since: string;
        };
        OrphanAdopt: {
            owner?: components["schemas"]["UserName"];
        };
        ClusterResources: {
            vcpus: number;
            memoryMiB: number;
            diskMiB: number;
        };
        ClusterPeer: {
            nodeId: string;
            address: string;
            /** @description Whether this is the node that answered. */
            self: boolean;
            /**
             * @description Liveness as this node's discovery sees it (itself: alive).
             * @enum {string}
             */
            state: "alive" | "suspect" | "dead";
            /** @description Whether the peer says it is the head. */
            head?: boolean;
            /** @description Milliseconds since this node last heard from the peer (absent for itself). */
            lastSeenMs?: number;
            uptimeSec: number;
            /** @description The host's 1-minute load average. */
            load?: number;
            /** @enum {string} */
            accelerator?: "kvm" | "tcg";
            /** @description What the peer lends in all (its share policy). */
            lends?: components["schemas"]["ClusterResources"];
            /** @description What of that is free now. */
            free?: components["schemas"]["ClusterResources"];
            /**
             * @description Whether the workstation's owner is using it: `busy` when the load beyond the vCPUs its guests hold is 0.5 or more (services/coordinator/README.md), `unknown` without a load or capacity.
             * @enum {string}
             */
            owner: "busy" | "idle" | "unknown";
            /** @description The tasks this coordinator placed there that have not ended: how many in all, and those the caller may see (their own; an admin every one). */
            tasks: {
                count: number;
                items: {
                    id: components["schemas"]["TaskId"];
                    name: string;
                    state: components["schemas"]["TaskState"];
                    owner?: components["schemas"]["UserName"];
                }[];
            };
        };
        JoinTokenId: string;
        /** @description An image recipe storage knows how to build (debian-12-server). */
        ImageRecipeId: string;
        ImageBuildRequest: {
            recipe: components["schemas"]["ImageRecipeId"];
        };
        /** @description As storage's ImageBuild. */
        ImageBuild: {
            recipe: components["schemas"]["ImageRecipeId"];
            /** @enum {string} */
            state: "running" | "succeeded" | "failed";
            /** Format: date-time */
            startedAt: string;
            /** Format: date-time */
            finishedAt?: string;
            /** @description Progress, one line a step (the last 200). */
            lines: string[];
            /** @description Succeeded without building: an image with the same input hash was there. */
            cached?: boolean;
            inputHash?: string;
            error?: string;
        };
        JoinTokenRequest: {
            /**
             * @description How long the token is valid (1 h by default
             * @default 3600
             */
            ttlSec: number;
        };
        JoinToken: {
            id: components["schemas"]["JoinTokenId"];
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            expiresAt: string;
            /** @enum {string} */
            state: "valid" | "used" | "revoked" | "expired";
            /** @description The node id that joined with it. */
            usedBy?: string;
            /** Format: date-time */
            usedAt?: string;
        };
        NewJoinToken: {
            /** @description The token (its id and one-time secret); shown once. */
            token: string;
            /** @description What to run on the new workstation: cps up --join HOST:PORT --token T. */
            command: string;
            info: components["schemas"]["JoinToken"];
        };
        /**
         * @description `vnc`: the guest's screen (noVNC); `serial`: its serial port (xterm.js).
         * @enum {string}
         */
        ConsoleKind: "vnc" | "serial";
        ConsoleTicketRequest: {
            kind: components["schemas"]["ConsoleKind"];
        };
        ConsoleTicket: {
            /** @description Opaque; put it in the socket URL's `ticket` query parameter (`url` has it already). */
            ticket: string;
            /**
             * Format: date-time
             * @description At most 40 s after it was issued.
             */
            expiresAt: string;
            /** @description The socket to open, relative to the portal: /console/{taskId}/websockify?ticket=… or /serial/{taskId}/socket?ticket=… */
            url: string;
        };
        UserId: string;
        TokenId: string;
        /** @description Lower-case letters, digits, `.`, `_`, `-`; starts with a letter; at most 32. */
        UserName: string;
        /** @description At least 12 characters (any, spaces included); at most 256. */
        NewPassword: string;
        /** @enum {string} */
        Role: "user" | "admin";
        /** @description What one user may hold at once (tasks not yet ended); a submit beyond it is refused, naming the limit. */
        Quota: {
            vcpus: number;
            memoryMiB: number;
            diskMiB: number;
            runningTasks: number;
        };
        /** @description Some fields of a Quota; the others are kept (or take the defaults for a new user). */
        QuotaPatch: {
            vcpus?: number;
            memoryMiB?: number;
            diskMiB?: number;
            runningTasks?: number;
        };
        User: {
            id: components["schemas"]["UserId"];
            name: components["schemas"]["UserName"];
            role: components["schemas"]["Role"];
            quota: components["schemas"]["Quota"];
            /** Format: date-time */
            createdAt: string;
            disabled: boolean;
            /** Format: date-time */
            disabledAt?: string;
        };
        Me: {
            user: components["schemas"]["User"];
            /**
             * @description How this request was authenticated.
             * @enum {string}
             */
            via: "session" | "token";
            /**
             * Format: date-time
             * @description With a session: when it ends unless used again.
             */
            sessionExpiresAt?: string;
        };
        SignIn: {
            name: string;
            password: string;
        };
        SignedIn: {
            user: components["schemas"]["User"];
            /**
             * Format: date-time
             * @description When the session ends unless used again (each use renews it).
             */
            expiresAt: string;
        };
        UserRequest: {
            name: components["schemas"]["UserName"];
            password: components["schemas"]["NewPassword"];
            role?: components["schemas"]["Role"];
            quota?: components["schemas"]["QuotaPatch"];
        };
        UserPatch: {
            role?: components["schemas"]["Role"];
            quota?: components["schemas"]["QuotaPatch"];
            disabled?: boolean;
            password?: components["schemas"]["NewPassword"];
        };
        TokenRequest: {
            /** @description A label for the user (e.g. the machine it is for); printable text as TaskRequest.name. */
            name: string;
            /** @description Left out, the token lasts until revoked. */
            expiresInDays?: number;
        };
        ApiToken: {
            id: components["schemas"]["TokenId"];
            userId: components["schemas"]["UserId"];
            name: string;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            expiresAt?: string;
            /**
             * Format: date-time
             * @description To the minute.
             */
            lastUsedAt?: string;
            /** Format: date-time */
            revokedAt?: string;
        };
        NewApiToken: components["schemas"]["ApiToken"] & {
            /** @description The bearer value: `Authorization: Bearer <token>`. Shown once. */
            token: string;
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
        /** @description No valid session cookie or API token (`WWW-Authenticate` says Bearer). */
        AuthenticationRequired: {
            headers: {
                "WWW-Authenticate"?: string;
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description Signed in, but an admin's route. */
        Forbidden: {
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
    uploadImage: {
        parameters: {
            query: {
                name: components["schemas"]["UploadImageName"];
                /** @description The format the uploader expects; refused (image-rejected) when the bytes are another. */
                format?: components["schemas"]["UploadFormat"];
                /** @description The SHA-256 the uploader computed; refused (upload-incomplete) when the bytes differ. */
                sha256?: components["schemas"]["Sha256"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description These bytes were already an image. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UploadedImage"];
                };
            };
            /** @description The image was added. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UploadedImage"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
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
            /** @description The caller's tasks (an admin's, every task), newest first. */
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
            401: components["responses"]["AuthenticationRequired"];
            default: components["responses"]["Problem"];
        };
    };
    submitTask: {
        parameters: {
            query?: never;
            header?: {
                /** @description Any 1-255 printable ASCII characters the client picks for this one request (a UUID, say). */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TaskRequest"];
            };
        };
        responses: {
            /** @description The task this Idempotency-Key already made (a retry). */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Task"];
                };
            };
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
            401: components["responses"]["AuthenticationRequired"];
            /** @description `user-quota-exceeded`: the task would take the user past their quota; `limits` names each limit and by how much. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
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
            401: components["responses"]["AuthenticationRequired"];
            default: components["responses"]["Problem"];
        };
    };
    stopTask: {
        parameters: {
            query?: {
                /** @description `true`: delete the record of a task that has ended (stopped or failed), its history with it; a task not ended is refused (409). */
                purge?: "true" | "false";
            };
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
            /** @description Purged: the task's record is gone. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            401: components["responses"]["AuthenticationRequired"];
            /** @description `conflict`: purge of a task that has not ended (stop it first). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
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
            401: components["responses"]["AuthenticationRequired"];
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
            401: components["responses"]["AuthenticationRequired"];
        };
    };
    suspendTask: {
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
            /** @description Done; the task as it is now. */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Task"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            /** @description `conflict`: the task is in a state that does not allow this (the detail names it), or another action on it is under way. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    resumeTask: {
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
            /** @description Done; the task as it is now. */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Task"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            /** @description `conflict`: the task is in a state that does not allow this (the detail names it), or another action on it is under way. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    checkpointTask: {
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
            /** @description Done; the task as it is now. */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Task"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            /** @description `conflict`: the task is in a state that does not allow this (the detail names it), or another action on it is under way. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    restartTask: {
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
            /** @description Done; the task as it is now. */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Task"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            /** @description `conflict`: the task is in a state that does not allow this (the detail names it), or another action on it is under way. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    streamTaskEvents: {
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
            /** @description An event stream. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            default: components["responses"]["Problem"];
        };
    };
    getTaskDownload: {
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
            /** @description The copy's files, each with the URL to download it. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskDownloadList"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            /** @description `not-found`: no such task, it was not submitted with keepCopy, or the copy has expired. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict`: the task has not ended yet; the copy is made when it stops. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    downloadTaskFile: {
        parameters: {
            query?: never;
            header?: {
                /** @description One byte range, `bytes=START-[END]` or `bytes=-SUFFIX` (RFC 9110 §14.2). */
                Range?: string;
                "If-Range"?: string;
            };
            path: {
                taskId: components["schemas"]["TaskId"];
                fileName: components["schemas"]["DownloadFileName"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The whole file. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            /** @description The requested range, with Content-Range. */
            206: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            /** @description `range-not-satisfiable`: the range is outside the file or not one this API accepts; Content-Range says the size. */
            416: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    uploadBootstrap: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-tar": string;
                "multipart/form-data": {
                    [key: string]: string;
                };
            };
        };
        responses: {
            /** @description This archive was already uploaded. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BootstrapUpload"];
                };
            };
            /** @description The archive was checked and kept. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BootstrapUpload"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            default: components["responses"]["Problem"];
        };
    };
    getApiReference: {
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
    getApiReferenceAsset: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                asset: "swagger-ui.css" | "swagger-ui-bundle.js" | "docs.js" | "docs.css";
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
    getContract: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                file: "coordinator.yaml" | "discovery.yaml" | "provisioner.yaml" | "storage.yaml" | "vnc-gateway.yaml";
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The contract. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/yaml": string;
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    listOrphans: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The orphans, oldest first. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Orphan"][];
                    };
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            403: components["responses"]["Forbidden"];
            default: components["responses"]["Problem"];
        };
    };
    destroyOrphan: {
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
            /** @description The guest and its disks are gone. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            401: components["responses"]["AuthenticationRequired"];
            403: components["responses"]["Forbidden"];
            /** @description No such orphan. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    adoptOrphan: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["OrphanAdopt"];
            };
        };
        responses: {
            /** @description The task. */
            201: {
                headers: {
                    /** @description The task's URL. */
                    Location?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Task"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            403: components["responses"]["Forbidden"];
            /** @description No such orphan, or no such user. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    getPortalModule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                module: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The module. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/javascript": string;
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    getHead: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The head as this node sees it. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HeadInfo"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    listClusterPeers: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Peers, this node first, then by node id. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["ClusterPeer"][];
                    };
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            /** @description This node's discovery did not answer. */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    startImageBuild: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ImageBuildRequest"];
            };
        };
        responses: {
            /** @description A build of this recipe was already running. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ImageBuild"];
                };
            };
            /** @description The build started. */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ImageBuild"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            403: components["responses"]["Forbidden"];
            /** @description No such recipe. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    getImageBuild: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                recipe: components["schemas"]["ImageRecipeId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The build. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ImageBuild"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            403: components["responses"]["Forbidden"];
            /** @description No build of this recipe since storage started. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    listClusterJoinTokens: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Tokens, as this node's discovery lists them. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["JoinToken"][];
                    };
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            403: components["responses"]["Forbidden"];
            default: components["responses"]["Problem"];
        };
    };
    createClusterJoinToken: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["JoinTokenRequest"];
            };
        };
        responses: {
            /** @description The token and the command (shown once; discovery keeps only a hash of the secret). */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NewJoinToken"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            403: components["responses"]["Forbidden"];
            default: components["responses"]["Problem"];
        };
    };
    revokeClusterJoinToken: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                tokenId: components["schemas"]["JoinTokenId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The revoked token. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JoinToken"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            403: components["responses"]["Forbidden"];
            /** @description This node issued no such token. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    createConsoleTicket: {
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
                "application/json": components["schemas"]["ConsoleTicketRequest"];
            };
        };
        responses: {
            /** @description The ticket. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ConsoleTicket"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            default: components["responses"]["Problem"];
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
                /** @description A ticket from POST /api/tasks/{taskId}/console-ticket (kind vnc). */
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
                /** @description A ticket from POST /api/tasks/{taskId}/console-ticket (kind serial). */
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
    signIn: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SignIn"];
            };
        };
        responses: {
            /** @description Signed in; the `cps_session` cookie is set. */
            200: {
                headers: {
                    /** @description cps_session=<random>; HttpOnly; SameSite=Strict; Path=/; Max-Age=<lifetime> (Secure over HTTPS) */
                    "Set-Cookie"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SignedIn"];
                };
            };
            /** @description Wrong name or password (the same answer for an unknown or disabled name). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Too many failed attempts for this name or from this address; `Retry-After` says how long to wait. */
            429: {
                headers: {
                    /** @description Seconds until a new attempt is accepted. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    signOut: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Signed out. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Problem"];
        };
    };
    getMe: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The caller. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Me"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            default: components["responses"]["Problem"];
        };
    };
    listTokens: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Tokens, newest first, revoked ones included. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["ApiToken"][];
                    };
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            default: components["responses"]["Problem"];
        };
    };
    createToken: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TokenRequest"];
            };
        };
        responses: {
            /** @description The token; `token` is the bearer value (`cps_<id>_<secret>`), stored only as a SHA-256 of the secret. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NewApiToken"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            default: components["responses"]["Problem"];
        };
    };
    revokeToken: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                tokenId: components["schemas"]["TokenId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Revoked. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            401: components["responses"]["AuthenticationRequired"];
            default: components["responses"]["Problem"];
        };
    };
    listUsers: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Users, in the order they were made. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["User"][];
                    };
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            403: components["responses"]["Forbidden"];
            default: components["responses"]["Problem"];
        };
    };
    createUser: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UserRequest"];
            };
        };
        responses: {
            /** @description The user. */
            201: {
                headers: {
                    /** @description The user's URL. */
                    Location?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            403: components["responses"]["Forbidden"];
            /** @description The name is taken. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    updateUser: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                userId: components["schemas"]["UserId"];
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UserPatch"];
            };
        };
        responses: {
            /** @description The user as changed. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            401: components["responses"]["AuthenticationRequired"];
            403: components["responses"]["Forbidden"];
            /** @description The change would leave no enabled admin. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    getRegistrySnapshot: {
        parameters: {
            query?: {
                since?: number;
                epoch?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The snapshot. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RegistrySnapshot"];
                };
            };
            /** @description Nothing changed since `since` in this term. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description This node is not the head (`not-head`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
}

// Generated from openapi/discovery.yaml by scripts/gen-openapi.mjs; do not edit.
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
    "/self": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This node as its peers see it. */
        get: operations["getSelf"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/head": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * This node's coordinator leads the LAN with this epoch; every HELLO says so from now on.
         * @description Called by this node's own coordinator (on loopback, with its member certificate) when it
         *     becomes the head and again to keep the claim: one HELLO carrying it is sent at once, so
         *     peers learn the new head within one round trip, and every later HELLO carries it. The claim
         *     lapses by itself when it is not PUT again within `CPS_HEAD_CLAIM_TTL_MS` (20 s by default),
         *     so a coordinator killed without a word does not leave its discovery announcing a head
         *     forever. A PUT with another epoch replaces the claim (the coordinator owns the epochs; this
         *     service only carries them, docs/pep.md §3).
         */
        put: operations["claimHead"];
        post?: never;
        /**
         * This node's coordinator no longer leads; HELLOs say `head` false from now on (idempotent).
         * @description One HELLO without the claim is sent at once.
         */
        delete: operations["releaseHead"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/peers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The peers this node has heard from (by HELLO, ACK or any PEP message), with their liveness.
         * @description A peer is `alive` while heard within 3 HELLO intervals, `suspect` until 5, then `dead`;
         *     it is forgotten 60 intervals after it was last heard (at least 60 s), and removed at once
         *     when it says LEAVE. This node itself is not listed (see /self). Sorted by nodeId.
         */
        get: operations["listPeers"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/peers/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The peer view as server-sent events, for the coordinator and the watchdog.
         * @description First one `snapshot` event whose data is `{"items": [Peer...]}` (as GET /peers), then one
         *     event per change, named for it — `joined` (first heard, or heard again after it left),
         *     `alive` (heard again after being suspect or dead), `suspect`, `dead`, `left` (said LEAVE,
         *     or was forgotten), `capacity` (an alive peer's HELLO or ACK says other free or total
         *     capacity than before: the coordinator's queue tries again), `head` (a peer's HELLO claims
         *     the head where its last did not — a peer first heard claiming it included —, drops the
         *     claim, or claims another epoch; the event's peer carries the new `head` and `headEpoch`) — whose data is a PeerEvent. A HELLO that
         *     changes both state and claim emits the state event, then `head`.
         *     This node itself is not a peer here. A comment line every 15 s keeps the stream
         *     open through proxies. Suspect and dead are noticed by a timer that runs about 4 times per
         *     HELLO interval, so an event may come up to that much after the threshold.
         */
        get: operations["streamPeers"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/publish": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Find a host for a task (PUBLISH, collect ACKs, CONFIRM the first). */
        post: operations["publishTask"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/release/{taskId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A task this node placed has ended; its host drops the capacity it still holds for it (PEP RELEASE).
         * @description The coordinator calls this after it destroyed the task's guest. This node sends RELEASE, for
         *     the exchange that placed the task, to the node it chose; that node frees its hold at once
         *     (a confirmed hold otherwise lasts until its provisioner lists the guest, or 60 s), so a task
         *     submitted right after a stop can have the slot. Idempotent: a task this node does not remember
         *     placing (released already, or placed before this service restarted) answers `released: false`.
         */
        post: operations["releaseTask"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Counters of packets sent, received and dropped, in Prometheus text format. */
        get: operations["getMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/join": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Admit a new workstation (cps up --join) and sign its certificate.
         * @description The caller has already checked, before sending this, that the CA this port presents has the
         *     SHA-256 its token holds. The token must have been issued by this node, be unexpired, unused
         *     and unrevoked, and the secret must match; it is used up before the answer is sent, so a
         *     replay finds it used. The certificate is signed over the CSR's key (which never leaves the
         *     new node), with this node's choice of subject: CN = nodeId.
         */
        post: operations["join"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/trust/join-tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The join tokens this node issued, with their state. */
        get: operations["listJoinTokens"];
        put?: never;
        /** A one-time join token for a new workstation, and the command to run there. */
        post: operations["createJoinToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/trust/join-tokens/{tokenId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Revoke a join token this node issued; a join with it is refused from now on. */
        delete: operations["revokeJoinToken"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/trust/removals": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The nodes removed from the cluster, as this node knows them. */
        get: operations["listRemovals"];
        /** Removals another member knows; merged into this node's (a set that only grows). */
        put: operations["mergeRemovals"];
        /** Remove a node from the cluster (cps node remove); every peer refuses its certificate within seconds. */
        post: operations["removeNode"];
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
        Ports: {
            coordinator: number;
            discovery: number;
            provisioner: number;
            storage: number;
            vncGateway: number;
        };
        Resources: {
            vcpus: number;
            memoryMiB: number;
            diskMiB: number;
        };
        NodeInfo: {
            nodeId: string;
            /** @description The address peers reach this node's services on. */
            address: string;
            ports: components["schemas"]["Ports"];
            uptimeSec: number;
            /** @description The host's 1-minute load average. */
            load?: number;
            /** @description What this node lends in all (its share policy). */
            total?: components["schemas"]["Resources"];
            free?: components["schemas"]["Resources"];
            /** @enum {string} */
            accelerator?: "kvm" | "tcg";
        };
        Peer: components["schemas"]["NodeInfo"] & {
            /** @description Milliseconds since this node last heard from the peer. */
            lastSeenMs: number;
            /** @enum {string} */
            state: "alive" | "suspect" | "dead";
            /** @description Whether the peer's last HELLO said its coordinator is the head (an ACK carries no claim and changes nothing). */
            head: boolean;
            /** @description The epoch its last HELLO claimed; present exactly when `head` is true. */
            headEpoch?: components["schemas"]["HeadEpoch"];
        };
        Self: components["schemas"]["NodeInfo"] & {
            /** @description Whether this node's HELLOs claim the head now (PUT /head */
            head: boolean;
            /** @description The claimed epoch; present exactly when `head` is true. */
            headEpoch?: components["schemas"]["HeadEpoch"];
        };
        /** @description A head's term (its fencing token); a later head's is strictly larger. */
        HeadEpoch: number;
        HeadClaim: {
            epoch: components["schemas"]["HeadEpoch"];
        };
        PeerEvent: {
            /** @enum {string} */
            type: "joined" | "alive" | "suspect" | "dead" | "left" | "capacity" | "head";
            peer: components["schemas"]["Peer"];
            /**
             * Format: date-time
             * @description When this node noticed the change.
             */
            at: string;
            /**
             * @description For `left`: it said LEAVE, or it was dead long enough to be forgotten.
             * @enum {string}
             */
            reason?: "leave" | "forgotten";
        };
        Requirements: {
            vcpus: number;
            memoryMiB: number;
            diskMiB: number;
            /** @default x86_64 */
            arch: string;
            /** @default false */
            needsKvm: boolean;
            /** @description An image id, as storage's ImageId. */
            image?: string;
            /** @description The image's SHA-256 (the publisher's storage Image.sha256): a peer whose storage holds no image with it stays silent (one that can fetch it will answer, issue 14). */
            imageSha256?: string;
        };
        PublishRequest: {
            taskId: components["schemas"]["TaskId"];
            requirements: components["schemas"]["Requirements"];
            /**
             * @description How long to wait for a first ACK.
             * @default 2000
             */
            timeoutMs: number;
            /** @description Node ids that must not host the task (for re-deploys). */
            exclude?: string[];
        };
        Placement: {
            taskId: components["schemas"]["TaskId"];
            chosen: components["schemas"]["NodeInfo"];
            backups: components["schemas"]["NodeInfo"][];
            /** @description Milliseconds from PUBLISH to the first ACK. */
            ackMs?: number;
        };
        Released: {
            taskId: components["schemas"]["TaskId"];
            /** @description Whether a RELEASE was sent. */
            released: boolean;
            /** @description The node told to release (the one chosen to host the task). */
            node?: string;
        };
        NodeId: string;
        JoinRequest: {
            tokenId: string;
            secret: string;
            nodeId: components["schemas"]["NodeId"];
            /** @description A PEM PKCS#10 request for an ECDSA P-256 key. */
            csr: string;
            /** @description The new node's addresses */
            addresses: string[];
        };
        JoinGrant: {
            /** @description The new node's certificate (PEM). */
            certificate: string;
            /** @description The cluster CA's certificate (PEM). */
            ca: string;
            /** @description The CA's key (PEM): every member can admit the next (docs/trust.md). */
            caKey: string;
            /** @description The PEP key every member shares. */
            clusterKey: string;
            pep: {
                group: string;
                port: number;
                multicast: boolean;
                /** @description CPS_PEP_SEEDS of the admitting node */
                seeds?: string;
            };
            admittedBy: components["schemas"]["NodeInfo"];
            removals: components["schemas"]["Removal"][];
        };
        JoinTokenRequest: {
            /**
             * @description How long the token is valid (1 h by default).
             * @default 3600
             */
            ttlSec: number;
        };
        JoinTokenInfo: {
            id: string;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            expiresAt: string;
            /** @enum {string} */
            state: "valid" | "used" | "revoked" | "expired";
            usedBy?: string;
            /** Format: date-time */
            usedAt?: string;
        };
        JoinTokenCreated: {
            token: string;
            /** @description What to run on the new workstation: cps up --join HOST:PORT --token T. */
            command: string;
            info: components["schemas"]["JoinTokenInfo"];
        };
        Removal: {
            nodeId: components["schemas"]["NodeId"];
            /**
             * Format: date-time
             * @description Certificates of this node issued at or before this are refused.
             */
            removedAt: string;
            by: components["schemas"]["NodeId"];
        };
        RemovalList: {
            items: components["schemas"]["Removal"][];
            /** @description 16 hex digits over the sorted set. */
            digest?: string;
        };
        RemoveNodeRequest: {
            nodeId: components["schemas"]["NodeId"];
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
    getSelf: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description This node. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Self"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    claimHead: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["HeadClaim"];
            };
        };
        responses: {
            /** @description Claimed (or the claim renewed). */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Problem"];
        };
    };
    releaseHead: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Not claimed (any more). */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Problem"];
        };
    };
    listPeers: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Known peers. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Peer"][];
                    };
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    streamPeers: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description An event stream of `snapshot` then PeerEvent events. */
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
    publishTask: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PublishRequest"];
            };
        };
        responses: {
            /** @description A host was found and confirmed. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Placement"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    releaseTask: {
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
            /** @description What was released. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Released"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    getMetrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Metrics. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
        };
    };
    join: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["JoinRequest"];
            };
        };
        responses: {
            /** @description Admitted. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JoinGrant"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    listJoinTokens: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Tokens. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["JoinTokenInfo"][];
                    };
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    createJoinToken: {
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
            /** @description The token (shown once; this node keeps only a hash of its secret). */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JoinTokenCreated"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    revokeJoinToken: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                tokenId: string;
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
                    "application/json": components["schemas"]["JoinTokenInfo"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    listRemovals: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Removals and their digest (the one HELLO carries). */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RemovalList"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    mergeRemovals: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RemovalList"];
            };
        };
        responses: {
            /** @description This node's removals after the merge. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RemovalList"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    removeNode: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RemoveNodeRequest"];
            };
        };
        responses: {
            /** @description The removal, already sent to every peer this node knows. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RemovalList"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
}

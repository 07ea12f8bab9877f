// Generated from openapi/provisioner.yaml by scripts/gen-openapi.mjs; do not edit.
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
    "/capacity": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** What this peer lends in total and what is still free. */
        get: operations["getCapacity"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The guests this provisioner runs. */
        get: operations["listVms"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{taskId}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /** State, resources and console endpoints of a task's guest. */
        get: operations["getVm"];
        /**
         * Create and start the guest of a task (idempotent by task id).
         * @description The guest is a transient libvirt domain named `cps-<taskId>`, of type `kvm` or `qemu` (TCG) as
         *     the accelerator probe decided. Every file in the spec (disks, kernel, initrd) must be an absolute,
         *     normalized path inside this peer's data dir (else 400 `path-not-allowed`). A PUT repeated with
         *     the same spec answers 200 with the running guest; with a different spec, 409 `conflict`.
         *     A guest that does not fit the free capacity is refused with 409 `insufficient-capacity`,
         *     whose `detail` names each short resource (and whose `short`/`free` extensions list them).
         *     A guest that powers itself off is gone: GET then answers 404.
         */
        put: operations["createVm"];
        post?: never;
        /**
         * Destroy the guest at once and forget it (idempotent).
         * @description 204 also when there was no guest. 409 `conflict` when a domain of that name exists but was not
         *     made by a CPS provisioner (it carries no CPS metadata); such domains are never touched.
         *     The serial log is kept (it is overwritten when the task id boots again).
         */
        delete: operations["destroyVm"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{taskId}/serial": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /**
         * What the guest has written on its serial console so far.
         * @description The last 1 MiB of `$CPS_DATA_DIR/logs/<taskId>.serial`, as UTF-8 text; empty before the guest
         *     wrote anything. Still served after the guest is gone; 404 only when there is neither a log nor a guest.
         */
        get: operations["getSerialLog"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{taskId}/suspend": {
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
         * Pause the guest's vCPUs (idempotent; quick, so synchronous).
         * @description The guest keeps its memory (and so its share of capacity) but gets no CPU time.
         *     200 with the guest, also when it was already paused; 404 when the task has no guest.
         */
        post: operations["suspendVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{taskId}/resume": {
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
         * Let a paused guest run again (idempotent; synchronous).
         * @description 200 with the guest, also when it was already running; 404 when the task has no guest.
         */
        post: operations["resumeVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{taskId}/shutdown": {
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
         * Ask the guest to power off (through its qemu-guest-agent where it answers, else the ACPI power button); it goes when it is ready.
         * @description 202 with the guest as it is now: the request was sent, the guest decides when to power off;
         *     follow with GET /vms/{taskId} until it answers 404 (or DELETE to stop it at once).
         *     204 when the task has no guest (already off). The watchdog does not report this ending as unexpected.
         */
        post: operations["shutdownVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{taskId}/checkpoint": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /** The task's latest checkpoint, if any. */
        get: operations["getCheckpoint"];
        put?: never;
        /**
         * Save the guest's whole state (memory, devices) to a file (libvirt save); synchronous.
         * @description Writes `$CPS_DATA_DIR/checkpoints/<taskId>/state.sav` (replacing the previous checkpoint only
         *     once the new one is whole) and answers when it is written: a few seconds per GiB of guest memory.
         *     libvirt save stops the guest; with `leaveRunning: true` it is restored from the file at once and
         *     runs on (a checkpoint taken "in passing"). Without it the guest is gone afterwards, and its share
         *     of capacity is free, until POST /vms/{taskId}/restore.
         *     Idempotent: repeated after the guest stopped, it answers 200 with the checkpoint already taken.
         *     404 when the task has neither a guest nor a checkpoint.
         */
        post: operations["checkpointVm"];
        /** Discard the task's checkpoint (idempotent; 204 also when there was none). */
        delete: operations["deleteCheckpoint"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vms/{taskId}/restore": {
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
         * Start the guest again from its checkpoint, where it stopped (synchronous).
         * @description The guest must fit the free capacity (409 `insufficient-capacity`, as for create). 201 with the
         *     restored guest; 200 when the task's guest already runs (nothing restored); 404 `not-found` when
         *     the task has no checkpoint. The serial log goes on after what the guest wrote before.
         *     A checkpoint is data, not instructions: the domain XML is rebuilt from the task's spec (the one
         *     in the body, else the one kept with the checkpoint when it was taken), with this peer's own
         *     paths, and nothing of the XML inside the save image is used. 422 `checkpoint-rejected` when the
         *     image is not a save image or names another domain (name or UUID) than this task's, or when
         *     the spec is not the one the checkpoint was taken of; 422 `disk-rejected` as for create.
         */
        post: operations["restoreVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * What the watchdog and the owner-first policy notice, as Server-Sent Events.
         * @description A `text/event-stream`; each event's `event:` is the VmEvent's `kind` and its `data:` one VmEvent
         *     as JSON. The stream starts with the events of the last minute (so a reconnecting coordinator
         *     misses little), then live ones; a comment line is sent every 15 s to keep proxies from closing it.
         */
        get: operations["streamEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/fence": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The highest epoch this host has seen, and the head that sent it.
         * @description The host's fence (docs/head.md "Epochs and fencing"), shared by the provisioner and storage of
         *     one node: a command carrying a smaller CPS-Epoch is refused with 409 `stale-epoch`.
         *     `highestEpoch` is 0 before any head has shown its epoch.
         */
        get: operations["getFence"];
        put?: never;
        /**
         * Show this host a head's epoch (no body); raises the fence, changes nothing else.
         * @description A new head's first act: it shows every host its epoch, so a command an older head still has in
         *     flight is refused from then on. Both headers are required here (400 without them). 200 with the
         *     fence after the raise (also when the epoch was already the highest); 409 `stale-epoch` when
         *     the epoch is older than the highest this host has seen.
         */
        post: operations["raiseFence"];
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
        /** @description A head's term; every new term's is strictly larger. */
        Epoch: number;
        NodeId: string;
        Fence: {
            /** @description The highest epoch any command carried; 0 before any. */
            highestEpoch: number;
            /** @description The head that sent it. */
            head?: components["schemas"]["NodeId"];
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
        /** @description A task's id; also names the libvirt domain (cps-<id>). */
        TaskId: string;
        /** @description The path parameters of /vms/{taskId}, as validated at the boundary. */
        TaskParam: {
            taskId: components["schemas"]["TaskId"];
        };
        Resources: {
            vcpus: number;
            memoryMiB: number;
            diskMiB: number;
        };
        Capacity: {
            total: components["schemas"]["Resources"];
            free: components["schemas"]["Resources"];
            /**
             * @description How guests run here
             * @enum {string}
             */
            accelerator: "kvm" | "tcg";
            /** @example x86_64 */
            arch: string;
            /** @description How many CPS guests run here now. */
            guests?: number;
            /** @description Whether the donor's share policy lends now; when not, `free` is all zeros and every create is refused. */
            lending?: {
                open: boolean;
                /** @description The windows (local time, "HH:MM-HH:MM") when lending is allowed; empty: always. */
                hours?: string[];
                /** @description The owner-first policy has suspended the guests (the owner is at work). */
                ownerBusy?: boolean;
            };
        };
        DiskSpec: {
            /**
             * @description An absolute, normalized file path in the data dir: a writable disk must be in
             *     `disks/<taskId>/` (the task's own folder); a CD-ROM or read-only disk may also be in `images/`.
             *     Kernel and initrd (BootSpec) come from `images/` or `disks/<taskId>/`.
             */
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
        VmSpec: {
            /** @description The user's name for the machine (no control characters, no line or paragraph separators, no U+FFFE/U+FFFF, no lone UTF-16 surrogates: the rule of packages/common/src/names.ts, the same as TaskRequest.name of the coordinator); it goes only into the domain's <title>, never used as an identifier. */
            name: string;
            vcpus: number;
            memoryMiB: number;
            disks: components["schemas"]["DiskSpec"][];
            boot: components["schemas"]["BootSpec"];
            /**
             * @description Take a checkpoint (libvirt save, the guest left running) this often, counted from the last
             *     one (or from when this provisioner first saw the guest). Each pauses the guest for about
             *     as long as its memory takes to write, and a restored guest may get a new VNC port.
             */
            checkpointEverySec?: number;
            /**
             * @description The guest's network. `user`: one virtio NIC on QEMU's user-mode NAT (slirp): the guest can
             *     open connections outwards through the host's own stack, but it is on no bridge, so it is not
             *     a machine on the donor's LAN and nothing outside can connect in. `none`: no NIC at all.
             *     Omitted: this peer's default, `CPS_GUEST_NETWORK` (itself `user` unless the donor set it).
             *     A repeated PUT compares the network the guest would get, so omitting it and naming the
             *     default are the same spec.
             * @enum {string}
             */
            network?: "user" | "none";
            /**
             * @description The node id of the coordinator that placed the guest. Kept in the domain's metadata and
             *     returned by GET /vms, so a restarted coordinator can tell its own guests (to adopt, or list
             *     as orphans) from another coordinator's (not its business). Not part of the spec's digest:
             *     who asked does not change what runs.
             */
            placedBy?: string;
        };
        CheckpointRequest: {
            /** @description Restore the guest from the file at once so it runs on (default false). */
            leaveRunning?: boolean;
        };
        RestoreRequest: {
            /** @description The task's spec (as PUT), to rebuild the guest from; needed for a checkpoint copied from another peer. */
            spec?: components["schemas"]["VmSpec"];
        };
        Checkpoint: {
            taskId: components["schemas"]["TaskId"];
            /** @description The state file: $CPS_DATA_DIR/checkpoints/<taskId>/state.sav. */
            path: string;
            sizeBytes: number;
            /** Format: date-time */
            createdAt: string;
            /** @description What the guest needs when restored. */
            vcpus: number;
            memoryMiB: number;
            /** @description Whether the guest runs now (it was left running or has been restored). */
            running?: boolean;
        };
        /** @description Something that happened to a guest that its coordinator should know about. */
        VmEvent: {
            /** @description Increasing within one provisioner process. */
            id: number;
            /**
             * @description crashed: libvirt reports the domain crashed. vanished: the domain is gone and no one here
             *     asked for that (its QEMU died or was killed). shutdown: the guest powered itself off or is
             *     shutting down unasked. paused: paused and no one here asked for it. io-error: paused on a disk
             *     I/O error. owner-busy / owner-idle: the owner-first policy suspended / resumed the guest.
             *     vacate: the owner has been busy so long that the guest should move to another peer.
             *     suspended, resumed, checkpointed: done through this API (for the record).
             * @enum {string}
             */
            kind: "crashed" | "vanished" | "shutdown" | "paused" | "io-error" | "owner-busy" | "owner-idle" | "vacate" | "suspended" | "resumed" | "checkpointed";
            taskId: components["schemas"]["TaskId"];
            /**
             * Format: date-time
             * @description When it was noticed.
             */
            at: string;
            /**
             * Format: date-time
             * @description When the guest was last seen well (for crashed
             */
            lastSeenAt?: string;
            state?: components["schemas"]["VmState"];
            detail?: string;
        };
        /** @enum {string} */
        VmState: "running" | "paused" | "shutoff" | "crashed" | "pmsuspended" | "blocked" | "shutdown" | "nostate";
        GuestAddress: {
            /** @description The guest's name for the interface, e.g. enp1s0. */
            interface: string;
            /** @enum {string} */
            family: "ipv4" | "ipv6";
            address: string;
            prefix: number;
        };
        Vm: {
            taskId: components["schemas"]["TaskId"];
            /** @description The libvirt domain name. */
            domain: string;
            name: string;
            state: components["schemas"]["VmState"];
            vcpus: number;
            memoryMiB: number;
            /** @enum {string} */
            accelerator: "kvm" | "tcg";
            /** @description The periodic checkpoint interval the guest was created with */
            checkpointEverySec?: number;
            /** @description The node id of the coordinator that placed the guest (VmSpec.placedBy), if it said. */
            placedBy?: string;
            /**
             * @description The guest's IP addresses as its qemu-guest-agent reports them (loopback left out), on
             *     GET /vms/{taskId} only, and only where the agent answers; absent otherwise. Said by the guest:
             *     checked for form, not for truth.
             */
            addresses?: components["schemas"]["GuestAddress"][];
            console: {
                vnc: {
                    /** @description Always 127.0.0.1; VNC never listens beyond loopback. */
                    host: string;
                    /** @description The guest's VNC TCP port; 0 while libvirt has not given it one. */
                    port: number;
                    /**
                     * @description The guest's VNC password, random per task (8 characters, VNC's limit). For this peer's
                     *     vnc-gateway only, which logs in for the user; it is never shown to users. Present only
                     *     in answers to this node's own services (a caller with this node's certificate): a
                     *     member on another node gets the guest without it.
                     */
                    password?: string;
                };
                /** @description The host pty of the serial console */
                serialPty?: string;
                /**
                 * @description The unix socket QEMU listens on for the guest's serial port (read and write; one client
                 *     at a time: this peer's vnc-gateway, which shares it among the serial consoles it serves).
                 *     Output still goes to the serial log. Present only in answers to this node's own services,
                 *     like the VNC password; absent for guests made with a pty serial.
                 */
                serialSocket?: string;
            };
        };
    };
    responses: {
        /**
         * @description A conflict, as RFC 9457 problem details: `stale-epoch` when CPS-Epoch is older than the highest
         *     epoch this host has seen (extensions `epoch` and `highestEpoch`); otherwise the conflict the
         *     operation describes.
         */
        Conflict: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
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
    parameters: {
        /**
         * @description The sending head's epoch (its term's fencing token). With CPS-Head, on every route that changes
         *     something: an epoch older than the highest this host has seen is refused (409 `stale-epoch`,
         *     naming both); a newer one is persisted before the command runs. Both absent: the command is let
         *     through unfenced (local tools, a single node without a head). One without the other, or a value
         *     that is not one decimal integer of at most 16 digits: 400 `bad-request`.
         */
        CpsEpoch: components["schemas"]["Epoch"];
        /** @description The node id of the head that sends the command (named in a refusal and in GET /fence). Sent with CPS-Epoch. */
        CpsHead: components["schemas"]["NodeId"];
        /** @description The new head's epoch. */
        CpsEpochRequired: components["schemas"]["Epoch"];
        /** @description The new head's node id. */
        CpsHeadRequired: components["schemas"]["NodeId"];
    };
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
    getCapacity: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Capacity. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Capacity"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    listVms: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description All guests. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Vm"][];
                    };
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    getVm: {
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
            /** @description The guest. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    createVm: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The sending head's epoch (its term's fencing token). With CPS-Head, on every route that changes
                 *     something: an epoch older than the highest this host has seen is refused (409 `stale-epoch`,
                 *     naming both); a newer one is persisted before the command runs. Both absent: the command is let
                 *     through unfenced (local tools, a single node without a head). One without the other, or a value
                 *     that is not one decimal integer of at most 16 digits: 400 `bad-request`.
                 */
                "CPS-Epoch"?: components["parameters"]["CpsEpoch"];
                /** @description The node id of the head that sends the command (named in a refusal and in GET /fence). Sent with CPS-Epoch. */
                "CPS-Head"?: components["parameters"]["CpsHead"];
            };
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["VmSpec"];
            };
        };
        responses: {
            /** @description The guest already existed with this spec. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description The guest was created and started. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            409: components["responses"]["Conflict"];
            default: components["responses"]["Problem"];
        };
    };
    destroyVm: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The sending head's epoch (its term's fencing token). With CPS-Head, on every route that changes
                 *     something: an epoch older than the highest this host has seen is refused (409 `stale-epoch`,
                 *     naming both); a newer one is persisted before the command runs. Both absent: the command is let
                 *     through unfenced (local tools, a single node without a head). One without the other, or a value
                 *     that is not one decimal integer of at most 16 digits: 400 `bad-request`.
                 */
                "CPS-Epoch"?: components["parameters"]["CpsEpoch"];
                /** @description The node id of the head that sends the command (named in a refusal and in GET /fence). Sent with CPS-Epoch. */
                "CPS-Head"?: components["parameters"]["CpsHead"];
            };
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Gone. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            409: components["responses"]["Conflict"];
            default: components["responses"]["Problem"];
        };
    };
    getSerialLog: {
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
            /** @description The serial log, as text. */
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
    suspendVm: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The sending head's epoch (its term's fencing token). With CPS-Head, on every route that changes
                 *     something: an epoch older than the highest this host has seen is refused (409 `stale-epoch`,
                 *     naming both); a newer one is persisted before the command runs. Both absent: the command is let
                 *     through unfenced (local tools, a single node without a head). One without the other, or a value
                 *     that is not one decimal integer of at most 16 digits: 400 `bad-request`.
                 */
                "CPS-Epoch"?: components["parameters"]["CpsEpoch"];
                /** @description The node id of the head that sends the command (named in a refusal and in GET /fence). Sent with CPS-Epoch. */
                "CPS-Head"?: components["parameters"]["CpsHead"];
            };
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The guest, paused. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            409: components["responses"]["Conflict"];
            default: components["responses"]["Problem"];
        };
    };
    resumeVm: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The sending head's epoch (its term's fencing token). With CPS-Head, on every route that changes
                 *     something: an epoch older than the highest this host has seen is refused (409 `stale-epoch`,
                 *     naming both); a newer one is persisted before the command runs. Both absent: the command is let
                 *     through unfenced (local tools, a single node without a head). One without the other, or a value
                 *     that is not one decimal integer of at most 16 digits: 400 `bad-request`.
                 */
                "CPS-Epoch"?: components["parameters"]["CpsEpoch"];
                /** @description The node id of the head that sends the command (named in a refusal and in GET /fence). Sent with CPS-Epoch. */
                "CPS-Head"?: components["parameters"]["CpsHead"];
            };
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The guest, running. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            409: components["responses"]["Conflict"];
            default: components["responses"]["Problem"];
        };
    };
    shutdownVm: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The sending head's epoch (its term's fencing token). With CPS-Head, on every route that changes
                 *     something: an epoch older than the highest this host has seen is refused (409 `stale-epoch`,
                 *     naming both); a newer one is persisted before the command runs. Both absent: the command is let
                 *     through unfenced (local tools, a single node without a head). One without the other, or a value
                 *     that is not one decimal integer of at most 16 digits: 400 `bad-request`.
                 */
                "CPS-Epoch"?: components["parameters"]["CpsEpoch"];
                /** @description The node id of the head that sends the command (named in a refusal and in GET /fence). Sent with CPS-Epoch. */
                "CPS-Head"?: components["parameters"]["CpsHead"];
            };
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The guest was asked (agent or power button). */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description No guest; nothing to shut down. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            409: components["responses"]["Conflict"];
            default: components["responses"]["Problem"];
        };
    };
    getCheckpoint: {
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
            /** @description The checkpoint. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Checkpoint"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    checkpointVm: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The sending head's epoch (its term's fencing token). With CPS-Head, on every route that changes
                 *     something: an epoch older than the highest this host has seen is refused (409 `stale-epoch`,
                 *     naming both); a newer one is persisted before the command runs. Both absent: the command is let
                 *     through unfenced (local tools, a single node without a head). One without the other, or a value
                 *     that is not one decimal integer of at most 16 digits: 400 `bad-request`.
                 */
                "CPS-Epoch"?: components["parameters"]["CpsEpoch"];
                /** @description The node id of the head that sends the command (named in a refusal and in GET /fence). Sent with CPS-Epoch. */
                "CPS-Head"?: components["parameters"]["CpsHead"];
            };
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["CheckpointRequest"];
            };
        };
        responses: {
            /** @description The checkpoint. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Checkpoint"];
                };
            };
            409: components["responses"]["Conflict"];
            default: components["responses"]["Problem"];
        };
    };
    deleteCheckpoint: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The sending head's epoch (its term's fencing token). With CPS-Head, on every route that changes
                 *     something: an epoch older than the highest this host has seen is refused (409 `stale-epoch`,
                 *     naming both); a newer one is persisted before the command runs. Both absent: the command is let
                 *     through unfenced (local tools, a single node without a head). One without the other, or a value
                 *     that is not one decimal integer of at most 16 digits: 400 `bad-request`.
                 */
                "CPS-Epoch"?: components["parameters"]["CpsEpoch"];
                /** @description The node id of the head that sends the command (named in a refusal and in GET /fence). Sent with CPS-Epoch. */
                "CPS-Head"?: components["parameters"]["CpsHead"];
            };
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Gone. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            409: components["responses"]["Conflict"];
            default: components["responses"]["Problem"];
        };
    };
    restoreVm: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The sending head's epoch (its term's fencing token). With CPS-Head, on every route that changes
                 *     something: an epoch older than the highest this host has seen is refused (409 `stale-epoch`,
                 *     naming both); a newer one is persisted before the command runs. Both absent: the command is let
                 *     through unfenced (local tools, a single node without a head). One without the other, or a value
                 *     that is not one decimal integer of at most 16 digits: 400 `bad-request`.
                 */
                "CPS-Epoch"?: components["parameters"]["CpsEpoch"];
                /** @description The node id of the head that sends the command (named in a refusal and in GET /fence). Sent with CPS-Epoch. */
                "CPS-Head"?: components["parameters"]["CpsHead"];
            };
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["RestoreRequest"];
            };
        };
        responses: {
            /** @description The guest was already there. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description The guest was restored and runs. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            409: components["responses"]["Conflict"];
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
            /** @description The event stream. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": components["schemas"]["VmEvent"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    getFence: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The fence. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Fence"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    raiseFence: {
        parameters: {
            query?: never;
            header: {
                /** @description The new head's epoch. */
                "CPS-Epoch": components["parameters"]["CpsEpochRequired"];
                /** @description The new head's node id. */
                "CPS-Head": components["parameters"]["CpsHeadRequired"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The fence, raised to this epoch or already there. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Fence"];
                };
            };
            409: components["responses"]["Conflict"];
            default: components["responses"]["Problem"];
        };
    };
}

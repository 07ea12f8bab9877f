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
        /**
         * Upload an ISO, qcow2 or raw image, streamed; its id is derived from its SHA-256.
         * @description The body is the image's bytes. The format is detected (an ISO 9660 signature, else
         *     `qemu-img info`); a qcow2 with a backing file or an external data file, and any other format,
         *     is refused (image-rejected). Larger than CPS_STORAGE_MAX_UPLOAD_MIB: payload-too-large. A body
         *     shorter than its Content-Length, or cut off: upload-incomplete. Nothing is kept from a refused
         *     upload. The same bytes again answer 200 with the existing image.
         */
        post: operations["uploadImage"];
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
        /** Delete an uploaded image; image-in-use while a task's disks use it; built-in images stay. */
        delete: operations["deleteImage"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/images/{imageId}/file": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                imageId: components["schemas"]["ImageId"];
            };
            cookie?: never;
        };
        /**
         * The bytes of an uploaded image, for a peer that pulls it (members only); supports Range.
         * @description The one data file of an uploaded disk or ISO image (its id is derived from its SHA-256, so
         *     the puller checks the bytes against the id it asked for). Built and kernel images are not
         *     served (image-not-found): each node builds its own. The ETag is the SHA-256 in quotes.
         */
        get: operations["getImageFile"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/images/builds": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Build an image from Debian's packages on this node (a recipe of image-build.ts), in the background.
         * @description Starts `mmdebstrap` and the rest of the recipe (services/storage/README.md) unless a build of
         *     the same recipe is running, whose state is answered instead (200). The build is named by its
         *     input hash (the recipe and the mirror's package lists): when an image with that hash is
         *     there, it ends within seconds with `cached: true`. A failed build leaves no image. Poll
         *     GET /images/builds/{recipe} for its progress lines. Members only; the coordinator lets admins call it.
         */
        post: operations["startImageBuild"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/images/builds/{recipe}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                recipe: components["schemas"]["ImageRecipeId"];
            };
            cookie?: never;
        };
        /** The latest build of a recipe since storage started, with its progress lines. */
        get: operations["getImageBuild"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/bootstraps": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Upload the files of a bootstrap disk as a tar archive; the disk is built at once.
         * @description Regular files and folders only: an entry named absolute, with a `..` part, or that is a link,
         *     device or fifo is refused (archive-rejected), as is a damaged archive. The disk is an ext4
         *     file system labelled CPSBOOT holding the files at its root; the tiny guest runs its `run.sh`.
         *     Content-addressed: the same archive again answers 200.
         */
        post: operations["uploadBootstrap"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/bootstraps/{bootstrapId}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                bootstrapId: components["schemas"]["BootstrapId"];
            };
            cookie?: never;
        };
        get: operations["getBootstrap"];
        put?: never;
        post?: never;
        /** Delete a bootstrap disk (tasks already made keep their own copy). */
        delete: operations["deleteBootstrap"];
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
        /**
         * Discard every disk of a task (idempotent).
         * @description When the task was created with `keepCopy`, a compressed copy of its own disks is made first
         *     and kept under /exports/{taskId} for the retention period (CPS_STORAGE_EXPORT_RETENTION_HOURS).
         */
        delete: operations["discardTaskDisks"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/disks/{taskId}/files": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /** What another peer's storage must fetch to take this task over (its disks and checkpoint files). */
        get: operations["getTransferManifest"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/disks/{taskId}/files/{area}/{fileName}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
                area: components["schemas"]["TransferArea"];
                fileName: components["schemas"]["FileName"];
            };
            cookie?: never;
        };
        /** One file of a task's transfer manifest; supports Range. */
        get: operations["getTransferFile"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/disks/{taskId}/pull": {
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
         * Take a task's disks (and checkpoint files) over from another peer's storage.
         * @description Fetches the source's transfer manifest, then every file into a staging folder while hashing
         *     it; only when every file is whole and its SHA-256 matches is the set renamed into place. A
         *     transfer cut off leaves nothing (transfer-failed); retrying is safe. The task's image must
         *     exist here (images are content-addressed, so an uploaded image has the same id on every peer).
         */
        post: operations["pullTaskDisks"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/checkpoints/{taskId}/files": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        /**
         * The task's checkpoint files on this node (the provisioner's state.sav and checkpoint.json), each with its size and SHA-256.
         * @description Each is then fetched through GET /disks/{taskId}/files/checkpoints/{fileName}. 404 when there is none.
         */
        get: operations["getCheckpointManifest"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/checkpoints/{taskId}/pull": {
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
         * Copy a task's latest checkpoint from another peer's storage (a backup peer keeping a copy).
         * @description Fetches the source's checkpoint manifest, then each file into a staging folder, checking its
         *     size and SHA-256; a file this node already holds with the same hash is linked, not fetched
         *     again. The previous copy is kept until the new one is whole, then replaced in one rename; a
         *     transfer cut off leaves the previous copy as it was (transfer-failed). The copy is data: the
         *     provisioner restores it only under XML rebuilt from the task's spec.
         */
        post: operations["pullCheckpoint"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/exports": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The compressed copies kept of ended tasks' disks. */
        get: operations["listExports"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/exports/{taskId}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
            };
            cookie?: never;
        };
        get: operations["getExport"];
        put?: never;
        post?: never;
        delete: operations["deleteExport"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/exports/{taskId}/{fileName}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
                fileName: components["schemas"]["FileName"];
            };
            cookie?: never;
        };
        /** Download one compressed disk (qcow2); supports Range (206) and If-Range. */
        get: operations["downloadExport"];
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
        TaskId: string;
        ImageId: string;
        /** @description A label for people; never a path. */
        ImageName: string;
        /** @enum {string} */
        UploadFormat: "qcow2" | "raw" | "iso";
        BootstrapId: string;
        Sha256: string;
        FileName: string;
        /**
         * @description disks: $CPS_DATA_DIR/disks/<task>/; checkpoints: $CPS_DATA_DIR/checkpoints/<task>/.
         * @enum {string}
         */
        TransferArea: "disks" | "checkpoints";
        Bootstrap: {
            id: components["schemas"]["BootstrapId"];
            sha256: components["schemas"]["Sha256"];
            /** @description The size of the disk (raw ext4). */
            sizeBytes: number;
            files: {
                path: string;
                sizeBytes: number;
            }[];
        };
        /** @description A NoCloud seed (an ISO with volume id cidata) attached as a read-only CD-ROM. */
        CloudInit: {
            userData: string;
            /** @description Default: instance-id and local-hostname set to the task id. */
            metaData?: string;
            networkConfig?: string;
        };
        TransferFile: {
            area: components["schemas"]["TransferArea"];
            name: components["schemas"]["FileName"];
            sizeBytes: number;
            sha256: components["schemas"]["Sha256"];
        };
        TransferManifest: {
            taskId: components["schemas"]["TaskId"];
            request: components["schemas"]["TaskDisksRequest"];
            files: components["schemas"]["TransferFile"][];
        };
        CheckpointManifest: {
            taskId: components["schemas"]["TaskId"];
            files: components["schemas"]["TransferFile"][];
        };
        CheckpointCopy: {
            taskId: components["schemas"]["TaskId"];
            files: components["schemas"]["TransferFile"][];
            /** @description The copy's whole size. */
            sizeBytes: number;
            /** @description What crossed the network (files already here with the same hash are not fetched). */
            bytesMoved: number;
        };
        PullRequest: {
            sourceNode: components["schemas"]["SourceNode"];
        };
        /**
         * @description The peer whose storage holds the task now: its address and storage port, as discovery's
         *     GET /peers lists them (Peer.address, Peer.ports.storage). Only a peer this node knows is
         *     asked (a storage service must not be made to fetch from anywhere): one discovery lists as
         *     alive or suspect with that storage port, or one in CPS_STORAGE_PEER_ALLOW; any other is
         *     refused with peer-not-allowed.
         */
        SourceNode: {
            /** @description An IPv4 or IPv6 address or a host name. */
            address: string;
            port: number;
        };
        ExportFile: {
            name: components["schemas"]["FileName"];
            sizeBytes: number;
            sha256: components["schemas"]["Sha256"];
        };
        Export: {
            taskId: components["schemas"]["TaskId"];
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            expiresAt: string;
            files: components["schemas"]["ExportFile"][];
        };
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
            /** @description Built images: the operating system (debian-12). */
            os?: string;
            /** @description Built images: whether it brings up a graphical desktop. */
            desktop?: boolean;
            /**
             * Format: date-time
             * @description Built images: when the build finished.
             */
            builtAt?: string;
            /** @description Built images: SHA-256 of the recipe and the mirror's package lists; an unchanged one is not rebuilt. */
            inputHash?: string;
            /** @description Built images, the Debian packages installed, with versions. */
            packages?: {
                name: string;
                version: string;
            }[];
        };
        /** @description An image recipe storage knows how to build (debian-12-server). */
        ImageRecipeId: string;
        ImageBuildRequest: {
            recipe: components["schemas"]["ImageRecipeId"];
        };
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
            /** @description Why it failed (the failing tool's message). */
            error?: string;
        };
        StorageCapacity: {
            /** @description Free on the data dir's file system now. */
            freeBytes: number;
            /** @description Kept back for the host (CPS_STORAGE_RESERVE_MIB). */
            reserveBytes: number;
            /** @description What existing task disks may still grow by. */
            promisedBytes: number;
            /** @description The largest diskMiB a new task may ask for (within the quota */
            availableMiB: number;
            /** @description The donor's share of disk for task disks (CPS_SHARE_DISK_MIB); absent: no quota. */
            quotaMiB?: number;
            /** @description What existing task disks count against the quota. */
            committedMiB?: number;
        };
        TaskDisksRequest: {
            image: components["schemas"]["ImageId"];
            diskMiB: number;
            /** @description Attach a copy of this bootstrap disk (raw, device disk) after the first disk. */
            bootstrap?: components["schemas"]["BootstrapId"];
            cloudInit?: components["schemas"]["CloudInit"];
            /** @description Keep a compressed copy of the disks for download when the task's disks are discarded. */
            keepCopy?: boolean;
            copyIn?: components["schemas"]["CopyIn"];
        };
        /**
         * @description Copy the files of an uploaded bootstrap archive into the file system of the task's disk
         *     (libguestfs, the paper's way, as an alternative to a separate bootstrap disk): only for disk
         *     images; the files go into the task's own overlay, never into the shared image. It runs in a
         *     small appliance VM (guestfish; about 10-15 s under TCG) while the disks are built, before they
         *     are renamed into place, so a failure leaves no disks (tool-failed with guestfish's message).
         */
        CopyIn: {
            /** @description Whose files to copy (POST /bootstraps). */
            bootstrap: components["schemas"]["BootstrapId"];
            /** @description An absolute folder in the guest's file system, made if missing; the archive's top-level entries land in it. No `.` or `..` parts. */
            target: string;
            /** @description The device whose file system receives the files, as libguestfs names it: /dev/sda1, /dev/sda for a disk without partitions, /dev/VG/LV. The task's disk is the appliance's only disk, /dev/sda (other /dev/sdX would be the appliance's own). Absent: the operating system's root found by inspection (virt-copy-in's way). */
            filesystem?: string;
        };
        /** @description The provisioner's DiskSpec, the same shape (no other fields): the coordinator passes TaskDisks.disks to PUT /vms as it is. */
        DiskSpec: {
            path: string;
            /** @enum {string} */
            format: "qcow2" | "raw";
            /** @enum {string} */
            device: "disk" | "cdrom";
            readonly?: boolean;
        };
        /** @description The provisioner's BootSpec, the same shape (no other fields): passed to PUT /vms as it is. */
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
        /** @description Set when this request fetched the task's image from a peer first (storage's image-pulls.ts). */
        ImagePull: {
            imageId: components["schemas"]["ImageId"];
            /** @description The node id of the peer the bytes came from. */
            fromNode: string;
            sizeBytes: number;
            /** @description How long the download and its checks took. */
            ms: number;
        };
        TaskDisks: {
            taskId: components["schemas"]["TaskId"];
            image: components["schemas"]["ImageId"];
            disks: components["schemas"]["DiskSpec"][];
            boot: components["schemas"]["BootSpec"];
            imagePull?: components["schemas"]["ImagePull"];
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
    uploadImage: {
        parameters: {
            query: {
                name: components["schemas"]["ImageName"];
                /** @description The format the uploader expects; refused (image-rejected) when the bytes are another. */
                format?: components["schemas"]["UploadFormat"];
                /** @description The SHA-256 the uploader computed; refused (upload-incomplete) when the bytes differ. */
                sha256?: components["schemas"]["Sha256"];
            };
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
                    "application/json": components["schemas"]["Image"];
                };
            };
            /** @description The image was added. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Image"];
                };
            };
            409: components["responses"]["Conflict"];
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
    deleteImage: {
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
                imageId: components["schemas"]["ImageId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Deleted (or there was no such image). */
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
    getImageFile: {
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
            /** @description The whole file. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            /** @description The requested range. */
            206: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    startImageBuild: {
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
            /** @description No such recipe. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            409: components["responses"]["Conflict"];
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
    uploadBootstrap: {
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
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-tar": string;
            };
        };
        responses: {
            /** @description This archive was already uploaded. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Bootstrap"];
                };
            };
            /** @description The bootstrap disk was built. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Bootstrap"];
                };
            };
            409: components["responses"]["Conflict"];
            default: components["responses"]["Problem"];
        };
    };
    getBootstrap: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                bootstrapId: components["schemas"]["BootstrapId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The bootstrap disk. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Bootstrap"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    deleteBootstrap: {
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
                bootstrapId: components["schemas"]["BootstrapId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Deleted (or there was none). */
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
            409: components["responses"]["Conflict"];
            default: components["responses"]["Problem"];
        };
    };
    discardTaskDisks: {
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
            /** @description Discarded. */
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
    getTransferManifest: {
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
            /** @description The files, each with its size and SHA-256. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TransferManifest"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    getTransferFile: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
                area: components["schemas"]["TransferArea"];
                fileName: components["schemas"]["FileName"];
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
            /** @description The requested range. */
            206: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    pullTaskDisks: {
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
                "application/json": components["schemas"]["PullRequest"];
            };
        };
        responses: {
            /** @description The disks were already here. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskDisks"];
                };
            };
            /** @description The disks were transferred. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskDisks"];
                };
            };
            409: components["responses"]["Conflict"];
            default: components["responses"]["Problem"];
        };
    };
    getCheckpointManifest: {
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
            /** @description The files. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CheckpointManifest"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    pullCheckpoint: {
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
                "application/json": components["schemas"]["PullRequest"];
            };
        };
        responses: {
            /** @description The copy is whole and in place. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CheckpointCopy"];
                };
            };
            409: components["responses"]["Conflict"];
            default: components["responses"]["Problem"];
        };
    };
    listExports: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every copy not yet expired. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Export"][];
                    };
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    getExport: {
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
            /** @description The copy's files. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Export"];
                };
            };
            default: components["responses"]["Problem"];
        };
    };
    deleteExport: {
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
            /** @description Deleted (or there was none). */
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
    downloadExport: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: components["schemas"]["TaskId"];
                fileName: components["schemas"]["FileName"];
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

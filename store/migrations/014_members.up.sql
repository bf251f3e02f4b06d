-- eventscope schema, version 14: competing consumers (owned by subscriptions/).
--
-- A subscription group (a subscription with partitions) is one row per
-- partition in eventscope.subscriptions, named GROUP#K: each partition has
-- its own checkpoint, lease (advisory lock), lease epoch and reset version,
-- so a partition that moves to another member resumes exactly where its last
-- holder's fenced checkpoint stopped, and a stale holder (frozen, cut off)
-- can never write after the move. A stream belongs to the partition
-- fnv-1a-32(stream_id) mod partitions (computed by the Go runner).
ALTER TABLE eventscope.subscriptions
    ADD COLUMN group_name text,     -- the group this partition row belongs to (NULL: a plain subscription)
    ADD COLUMN partition  integer,  -- 0 .. partitions-1
    ADD COLUMN partitions integer,  -- the group's partition count, fixed when it is created
    ADD CONSTRAINT subscriptions_partition_ck CHECK (
        (group_name IS NULL AND partition IS NULL AND partitions IS NULL)
     OR (group_name IS NOT NULL AND partitions > 0 AND partition >= 0 AND partition < partitions));
CREATE UNIQUE INDEX subscriptions_group_idx ON eventscope.subscriptions (group_name, partition)
    WHERE group_name IS NOT NULL;

-- The members of each group: one row per runner that runs it. A member is
-- live while its lease connection's backend (backend) exists; runners share
-- a group's partitions among the live members, ordered by instance.
CREATE TABLE eventscope.subscription_members (
    group_name text        NOT NULL,
    instance   text        NOT NULL,
    host       text        NOT NULL,
    pid        integer     NOT NULL,
    backend    integer     NOT NULL,  -- pid of the member's lease connection backend
    joined_at  timestamptz NOT NULL DEFAULT now(),
    heartbeat  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_name, instance)
);

-- Alerts survive a change of leader (issue 20, with issue 18's webhooks).
--
-- The webhook is an outbox: the leader delivers the rows of each tenant's
-- alerts stream (telltale.events, stream 'telltale.alerts', which the
-- evaluator writes on the leader's lock connection) in seq order, and moves
-- the tenant's cursor here once the receiver took a row (or it was given up
-- on). A new leader, or a restarted node, starts at the cursor, so a firing
-- or resolve written just before its leader died or was drained is still
-- delivered: at least once, with the same X-Telltale-Delivery id on every
-- try, so a receiver can drop the rare repeat. The cursor is written on the
-- lock connection too, so a node that lost the lock cannot move it.
CREATE TABLE telltale.alert_deliveries (
    tenant  text        PRIMARY KEY,
    epoch   bigint      NOT NULL,
    seq     bigint      NOT NULL CHECK (seq >= 0),
    updated timestamptz NOT NULL DEFAULT now()
);

-- Rows already in the alerts streams were sent (or not) by the in-memory
-- webhook of the version before: delivery starts after them.
INSERT INTO telltale.alert_deliveries (tenant, epoch, seq)
SELECT tenant, epoch, last_seq FROM telltale.streams WHERE stream = 'telltale.alerts';

-- When the evaluator began to count the silence of a stream that has no
-- event (a panel's fresh_within): kept here, so that the next leader counts
-- from the same moment instead of from its own start. Deleted when no
-- target judges the stream any more.
CREATE TABLE telltale.alert_silence (
    tenant text        NOT NULL,
    stream text        NOT NULL,
    since  timestamptz NOT NULL,
    PRIMARY KEY (tenant, stream)
);

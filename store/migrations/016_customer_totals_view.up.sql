-- eventscope schema, version 16: customer totals become a view over the
-- order-summary read model (owned by domain/).
--
-- Until now the order-summary subscriber kept eventscope.customer_totals
-- up to date in the same transaction as each order's row. A customer's
-- orders are different streams, so under a competing-consumer group they
-- land in different partitions, and two partitions whose batches touch the
-- same two customers in opposite orders deadlock (40P01): retried, so the
-- totals stayed exact, but each deadlock costs deadlock_timeout and the
-- group fell far behind under load. One row per order, each written by the
-- one partition that owns the order, cannot deadlock; the totals are the
-- sums of those rows, read through order_summary_customer_idx.
DROP TABLE eventscope.customer_totals;

CREATE VIEW eventscope.customer_totals AS
    SELECT customer_id,
           count(*)                                              AS orders,
           count(*) FILTER (WHERE status = 'pending')            AS pending,
           count(*) FILTER (WHERE status = 'approved')           AS approved,
           count(*) FILTER (WHERE status = 'rejected')           AS rejected,
           count(*) FILTER (WHERE status = 'cancelled')          AS cancelled,
           count(*) FILTER (WHERE status = 'shipped')            AS shipped,
           coalesce(sum(total), 0)::bigint                       AS placed_total,   -- cents, every order placed
           -- cents, approved and not cancelled (shipped included)
           coalesce(sum(total) FILTER (WHERE status IN ('approved', 'shipped')), 0)::bigint AS approved_total,
           coalesce(sum(total) FILTER (WHERE status = 'shipped'), 0)::bigint AS shipped_total
      FROM eventscope.order_summary
     GROUP BY customer_id;

-- Risk assessments of placed orders, and the order history the velocity rules read.

CREATE TABLE risk_assessments (
    order_id    uuid PRIMARY KEY,
    customer_id text NOT NULL,
    score       integer NOT NULL CHECK (score BETWEEN 0 AND 100),
    reasons     jsonb NOT NULL,
    placed_at   timestamptz NOT NULL,
    assessed_at timestamptz NOT NULL
);
CREATE INDEX risk_assessments_customer ON risk_assessments (customer_id, placed_at DESC);

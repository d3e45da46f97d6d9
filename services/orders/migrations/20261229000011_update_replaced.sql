-- What an update replaced (the contact and shipping address before it), so an erasure still
-- finds values the order no longer carries (they live on in earlier events and copies).
ALTER TABLE order_updates ADD COLUMN replaced jsonb;

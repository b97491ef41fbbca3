-- What was paid for a renewal done in the staff panel: the amount received,
-- how (efectivo | transferencia | tarjeta | otro) and an optional reference.
-- NULL for renewals that recorded no payment (the staff chat's /renovar).
ALTER TABLE renewals ADD COLUMN paid_cents INTEGER;
ALTER TABLE renewals ADD COLUMN payment_method TEXT;
ALTER TABLE renewals ADD COLUMN payment_reference TEXT;
-- The newest renewal of a subscription (the panel's undo may only take that one).
CREATE INDEX renewals_subscription ON renewals (subscription_id, id);

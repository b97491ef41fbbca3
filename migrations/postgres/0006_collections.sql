-- Cobranza (/admin/subscriptions): each row shows the client's last own
-- message, found by phone among inbound messages only (newest id first).
CREATE INDEX messages_inbound_phone ON messages (phone, id) WHERE direction = 'in';

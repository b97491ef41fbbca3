-- The dashboard and /resumen count outbound messages per day by kind and status:
-- this index answers them without reading the messages themselves.
CREATE INDEX messages_out_created ON messages (created_at, kind, status) WHERE direction = 'out';
-- Services with their subscription counts (the services page, Cobranza's
-- filter, the client page) count by service without reading every row.
CREATE INDEX subscriptions_service ON subscriptions (service_id, status);

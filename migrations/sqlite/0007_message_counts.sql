-- The dashboard and /hoy count outbound messages per day by kind and status:
-- this index answers them without reading the messages themselves.
CREATE INDEX messages_out_created ON messages (created_at, kind, status) WHERE direction = 'out';

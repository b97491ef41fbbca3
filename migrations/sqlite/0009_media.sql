-- Inbound files still to fetch (`messages.media_source` set): the sweeper
-- finds those whose fetch job was lost without scanning every message.
CREATE INDEX messages_media_pending ON messages (updated_at) WHERE media_source IS NOT NULL;

-- The Cloud API's 24-hour window: Meta accepted a text and then reported it
-- refused (131047, a `failed` status). The message is queued once more to
-- go as its template, whatever avisa's own clock says of the window.
ALTER TABLE messages ADD COLUMN outside_window INTEGER NOT NULL DEFAULT 0;

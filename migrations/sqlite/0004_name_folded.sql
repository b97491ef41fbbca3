-- Each client's name lowercased without accents (`store::fold`, written by
-- the application with every name), for the panel's search and its order.
-- Rows from before this migration are filled in at start-up.
ALTER TABLE clients ADD COLUMN name_folded TEXT;
CREATE INDEX clients_name_folded ON clients (name_folded, id);

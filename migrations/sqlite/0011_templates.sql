-- The Cloud API's 24-hour window: what an automatic message offers an
-- approved template (JSON), and the template it went as, if any.
ALTER TABLE messages ADD COLUMN template_args TEXT;
ALTER TABLE messages ADD COLUMN sent_template TEXT;

-- Two-phase reservations. A reservation is *held* until `expires_at`; the orders service
-- *confirms* it (`confirmed_at`) once the order is stored, or *releases* it, as products itself
-- does when a hold expires unconfirmed. So a checkout killed between reserving and storing its
-- order strands nothing. `status` still says where the stock is: 'reserved' (off the shelf:
-- held, or sold once confirmed) or 'released' (back in stock).
ALTER TABLE stock_reservations ADD COLUMN expires_at TIMESTAMPTZ;
ALTER TABLE stock_reservations ADD COLUMN confirmed_at TIMESTAMPTZ;
-- Reservations from before holds existed expire at once: nothing can confirm them.
UPDATE stock_reservations SET expires_at = created_at;
ALTER TABLE stock_reservations ALTER COLUMN expires_at SET NOT NULL;
CREATE INDEX stock_reservations_held_idx ON stock_reservations (expires_at)
    WHERE status = 'reserved' AND confirmed_at IS NULL;

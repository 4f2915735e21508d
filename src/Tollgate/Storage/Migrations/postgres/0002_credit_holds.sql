-- Admission, in one statement: tollgate_hold locks the key's spend row, then the account's balance row (always in
-- that order, as settlement does: keys first, then accounts), and holds the amount on both when the key's limit and
-- balance - held cover it. outcome: 0 held, 1 the account is short, 2 the key's limit is short; available: what the
-- short side had left. A zero amount (a free model) is held without touching the balance.
CREATE FUNCTION tollgate_hold(p_hold TEXT, p_account TEXT, p_key TEXT, p_amount BIGINT, p_limit BIGINT, p_reset TEXT,
    p_day BIGINT, p_week BIGINT, p_month BIGINT, p_instance TEXT, p_now BIGINT, p_expires BIGINT,
    OUT outcome INTEGER, OUT available BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    k key_spend%ROWTYPE;
    spent BIGINT;
BEGIN
    INSERT INTO key_spend (key_id) VALUES (p_key) ON CONFLICT (key_id) DO NOTHING;
    SELECT * INTO k FROM key_spend WHERE key_id = p_key FOR UPDATE;
    IF p_limit IS NOT NULL THEN
        spent := CASE p_reset
            WHEN 'daily' THEN CASE WHEN k.day_period = p_day THEN k.day_nanos ELSE 0 END
            WHEN 'weekly' THEN CASE WHEN k.week_period = p_week THEN k.week_nanos ELSE 0 END
            WHEN 'monthly' THEN CASE WHEN k.month_period = p_month THEN k.month_nanos ELSE 0 END
            ELSE k.total_nanos END;
        available := p_limit - spent - k.held_nanos;
        IF available < p_amount THEN
            outcome := 2;
            available := GREATEST(available, 0);
            RETURN;
        END IF;
    END IF;

    IF p_amount > 0 THEN
        UPDATE balances SET held_nanos = held_nanos + p_amount
        WHERE account_id = p_account AND balance_nanos - held_nanos >= p_amount
        RETURNING balance_nanos - held_nanos INTO available;
        IF NOT FOUND THEN
            SELECT GREATEST(COALESCE(MAX(balance_nanos - held_nanos), 0), 0) INTO available FROM balances WHERE account_id = p_account;
            outcome := 1;
            RETURN;
        END IF;

        UPDATE key_spend SET held_nanos = held_nanos + p_amount WHERE key_id = p_key;
    END IF;

    INSERT INTO credit_holds (id, account_id, key_id, amount_nanos, instance_id, created_at, expires_at)
    VALUES (p_hold, p_account, p_key, p_amount, p_instance, p_now, p_expires);
    outcome := 0;
END $$;

namespace Tollgate.Accounts;

/// <summary>What the accounts feature needs from storage. SQLite and PostgreSQL implement it.</summary>
internal interface IAccountStore
{
    /// <summary>Inserts the account; false when the e-mail address is taken.</summary>
    Task<bool> InsertAsync(Account account, string passwordHash, CancellationToken cancellationToken);

    /// <summary>
    /// Uses the invite and inserts the account in one transaction: false when the e-mail address is taken;
    /// null when the invite was used, revoked or expired in the meantime (nothing is written then).
    /// </summary>
    Task<bool?> InsertWithInviteAsync(Account account, string passwordHash, string inviteId, DateTimeOffset now, CancellationToken cancellationToken);

    Task<Account?> FindByEmailAsync(string email, CancellationToken cancellationToken);

    Task<Account?> FindByIdAsync(string id, CancellationToken cancellationToken);

    Task<string?> GetPasswordHashAsync(string accountId, CancellationToken cancellationToken);

    Task<IReadOnlyList<Account>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Accounts in creation order after <paramref name="after"/>, whose e-mail or name contains <paramref name="search"/>.</summary>
    Task<IReadOnlyList<Account>> ListPageAsync(string? search, AccountCursor? after, int limit, CancellationToken cancellationToken);

    Task<int> CountAsync(CancellationToken cancellationToken);

    Task<bool> UpdateProfileAsync(string accountId, string displayName, string timeZone, CancellationToken cancellationToken);

    /// <summary>Sets the password hash and a new security stamp together (every other session ends).</summary>
    Task<bool> SetPasswordAsync(string accountId, string passwordHash, string securityStamp, CancellationToken cancellationToken);

    Task<bool> SetSecurityStampAsync(string accountId, string securityStamp, CancellationToken cancellationToken);

    Task<bool> SetRoleAsync(string accountId, AccountRole role, CancellationToken cancellationToken);

    /// <summary>Disables or enables the account; a new security stamp ends its sessions.</summary>
    Task<bool> SetDisabledAsync(string accountId, bool disabled, string securityStamp, CancellationToken cancellationToken);

    /// <summary>How many accounts hold <paramref name="role"/> and are not disabled.</summary>
    Task<int> CountActiveWithRoleAsync(AccountRole role, CancellationToken cancellationToken);

    /// <summary>The key the dashboard's playground bills to; null until the first playground call.</summary>
    Task<string?> GetPlaygroundKeyIdAsync(string accountId, CancellationToken cancellationToken);

    Task SetPlaygroundKeyIdAsync(string accountId, string? keyId, CancellationToken cancellationToken);
}

/// <summary>Where a page of accounts ends: the last one's creation time and id.</summary>
internal sealed record AccountCursor(DateTimeOffset CreatedAt, string Id);

/// <summary>Invitations (and the first-run owner link): only the hash of a token is stored.</summary>
internal interface IInviteStore
{
    Task InsertAsync(Invite invite, string tokenHash, CancellationToken cancellationToken);

    /// <summary>The invite of the token's hash, used or not.</summary>
    Task<Invite?> FindByTokenHashAsync(string tokenHash, CancellationToken cancellationToken);

    /// <summary>The newest invites first.</summary>
    Task<IReadOnlyList<Invite>> ListAsync(int limit, CancellationToken cancellationToken);

    /// <summary>Makes an unused invite unusable (its expiry becomes <paramref name="now"/>); false when there is none such.</summary>
    Task<bool> RevokeAsync(string inviteId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Revokes every unused invite the server made itself (earlier first-run links).</summary>
    Task RevokeServerInvitesAsync(DateTimeOffset now, CancellationToken cancellationToken);
}

/// <summary>Failed sign-ins per e-mail address, whether or not an account has it.</summary>
internal interface ISignInFailureStore
{
    /// <summary>When the address is locked out until a later time than <paramref name="now"/>; null when it is not.</summary>
    Task<DateTimeOffset?> LockedUntilAsync(string email, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Counts a failure in a window of <paramref name="window"/>; at <paramref name="threshold"/> failures the address is
    /// locked for <paramref name="lockout"/>. Returns the end of the lockout when this failure started or extended one.
    /// </summary>
    Task<DateTimeOffset?> RecordFailureAsync(string email, DateTimeOffset now, int threshold, TimeSpan window, TimeSpan lockout,
        CancellationToken cancellationToken);

    Task ResetAsync(string email, CancellationToken cancellationToken);
}

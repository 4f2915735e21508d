using System.Security.Cryptography;
using System.Text;
using Tollgate.Storage;

namespace Tollgate.Accounts;

/// <summary>
/// Invitation links: <c>/signup?invite=TOKEN</c>. The token is 32 random bytes shown once; only its SHA-256 is
/// stored. On an empty database the server makes an owner invite at each start (the first-run link) and
/// revokes the one it made before.
/// </summary>
internal sealed class InviteService(IInviteStore store, IAccountStore accounts, Audit.AuditLog audit, TimeProvider time)
{
    public static readonly TimeSpan FirstRunLifetime = TimeSpan.FromDays(7);
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(30);

    internal sealed record Created(Invite Invite, string Token);

    /// <summary>An owner invite for the first account, or null when there already are accounts.</summary>
    public async Task<Created?> CreateFirstRunInviteAsync(CancellationToken cancellationToken)
    {
        if (await accounts.CountAsync(cancellationToken) > 0)
        {
            return null;
        }

        var now = time.GetUtcNow();
        await store.RevokeServerInvitesAsync(now, cancellationToken);
        return await InsertAsync(new Invite { Id = Ids.New("inv"), Role = AccountRole.Owner, CreatedAt = now, ExpiresAt = now + FirstRunLifetime },
            cancellationToken);
    }

    /// <summary>An owner or admin invites someone (only owners invite owners).</summary>
    /// <exception cref="ArgumentException">The invite is not allowed or a field is invalid.</exception>
    public async Task<Created> CreateAsync(Account actor, string? email, AccountRole role, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        if (!actor.IsAdmin)
        {
            throw new UnauthorizedAccessException("Only owners and admins invite people");
        }

        if (role == AccountRole.Owner && actor.Role != AccountRole.Owner)
        {
            throw new ArgumentException("Only an owner can invite an owner", nameof(role));
        }

        if (lifetime <= TimeSpan.Zero || lifetime > MaxLifetime)
        {
            throw new ArgumentException($"An invitation lasts between an hour and {MaxLifetime.TotalDays:0} days", nameof(lifetime));
        }

        email = string.IsNullOrWhiteSpace(email) ? null : email.Trim();
        if (email is not null && (email.Length > 254 || !System.Net.Mail.MailAddress.TryCreate(email, out _)))
        {
            throw new ArgumentException("That is not an e-mail address", nameof(email));
        }

        var now = time.GetUtcNow();
        var created = await InsertAsync(new Invite
        {
            Id = Ids.New("inv"),
            Email = email,
            Role = role,
            CreatedBy = actor.Id,
            CreatedAt = now,
            ExpiresAt = now + lifetime,
        }, cancellationToken);
        await audit.RecordAsync(actor.Id, "invite.create", null, created.Invite.Id,
            $"{AccountRoles.ToName(role)}{(email is null ? "" : " for " + email)}", cancellationToken);
        return created;
    }

    /// <summary>The usable invite of a token; null for an unknown, used, revoked or expired one (alike).</summary>
    public async Task<Invite?> FindUsableAsync(string? token, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 100)
        {
            return null;
        }

        var invite = await store.FindByTokenHashAsync(Hash(token), cancellationToken);
        if (invite is null || !invite.IsUsable(time.GetUtcNow()))
        {
            return null;
        }

        // The first-run link only makes the first account.
        if (invite.CreatedBy is null && await accounts.CountAsync(cancellationToken) > 0)
        {
            return null;
        }

        return invite;
    }

    public Task<IReadOnlyList<Invite>> ListAsync(int limit, CancellationToken cancellationToken) => store.ListAsync(Math.Clamp(limit, 1, 200), cancellationToken);

    public async Task<bool> RevokeAsync(Account actor, string inviteId, CancellationToken cancellationToken)
    {
        if (!actor.IsAdmin)
        {
            throw new UnauthorizedAccessException("Only owners and admins manage invitations");
        }

        var revoked = await store.RevokeAsync(inviteId, time.GetUtcNow(), cancellationToken);
        if (revoked)
        {
            await audit.RecordAsync(actor.Id, "invite.revoke", null, inviteId, null, cancellationToken);
        }

        return revoked;
    }

    private async Task<Created> InsertAsync(Invite invite, CancellationToken cancellationToken)
    {
        var token = Base64UrlToken();
        await store.InsertAsync(invite, Hash(token), cancellationToken);
        return new Created(invite, token);
    }

    private static string Base64UrlToken() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
}

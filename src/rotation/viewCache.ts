/**
 * What the views (GET /api/keys, the single-key view, the dashboard, the plan command) are
 * served from: the newest observation, if it is younger than ROTATOR_VIEW_MAX_AGE, and the
 * recent journal entries per key, read at most once per max age. One observation at a time
 * serves every concurrent viewer (single flight per scope); a reconcile that changed nothing
 * hands its observation in, and one that changed something drops what it made stale.
 *
 *   full       every managed key, as the last full observation saw them
 *   per key    a single-key view's (or a one-key reconcile's) observation of that key
 *
 * A view of one key takes the newer fresh one of the two. No I/O here: the rotation service
 * observes, this only remembers, with times from the service's clock.
 */

/** A key view as the rotation service caches it: JSON, with the key id views are filtered by. */
export interface KeyViewLike {
  id: string;
}

/** One observation, ready to serve: its views, and the keys that could not be read. */
export interface CachedObservation {
  /** The service clock's time when the observation began. */
  observedAt: Date;
  /** The canonical ids (`keyRefId`) of the keys it covers, sorted. */
  keyIds: readonly string[];
  /** True when it covers every managed key (a full view, or a timer run that leased every key). */
  full: boolean;
  views: readonly KeyViewLike[];
  unreadableKeys: Readonly<Record<string, string>>;
}

export interface CachedJournal<Entry> {
  entries: readonly Entry[];
  readAt: Date;
}

function isFresh(at: Date, now: Date, maxAgeMs: number): boolean {
  const age = now.getTime() - at.getTime();
  return age >= 0 && age < maxAgeMs;
}

export class ViewCache<Entry> {
  private full: CachedObservation | undefined;
  private readonly byKey = new Map<string, CachedObservation>();
  private readonly journals = new Map<string, CachedJournal<Entry>>();
  private readonly inFlight = new Map<string, Promise<unknown>>();

  /** The full observation, when it is younger than `maxAgeMs`. */
  freshFull(now: Date, maxAgeMs: number): CachedObservation | undefined {
    return this.full && isFresh(this.full.observedAt, now, maxAgeMs) ? this.full : undefined;
  }

  /** The newest observation covering `keyId` that is younger than `maxAgeMs`. */
  freshForKey(keyId: string, now: Date, maxAgeMs: number): CachedObservation | undefined {
    const candidates = [this.full, this.byKey.get(keyId)].filter(
      (observation): observation is CachedObservation =>
        observation?.keyIds.includes(keyId) === true && isFresh(observation.observedAt, now, maxAgeMs),
    );
    return candidates.sort((a, b) => b.observedAt.getTime() - a.observedAt.getTime())[0];
  }

  /** Remembers an observation: as the full one, or for each key it covers. An older one never replaces a newer. */
  remember(observation: CachedObservation): void {
    if (observation.full) {
      if (!this.full || this.full.observedAt <= observation.observedAt) this.full = observation;
      return;
    }
    for (const keyId of observation.keyIds) {
      const known = this.byKey.get(keyId);
      if (!known || known.observedAt <= observation.observedAt) this.byKey.set(keyId, observation);
    }
  }

  /** Forgets what is known about these keys (the service changed them): the next view observes again. */
  forgetKeys(keyIds: Iterable<string>): void {
    for (const keyId of keyIds) {
      if (this.full?.keyIds.includes(keyId)) this.full = undefined;
      this.byKey.delete(keyId);
      this.journals.delete(keyId);
    }
  }

  /** Forgets the cached journal entries of these keys (a run wrote to their journal). */
  forgetJournals(keyIds: Iterable<string>): void {
    for (const keyId of keyIds) this.journals.delete(keyId);
  }

  freshJournal(keyId: string, now: Date, maxAgeMs: number): CachedJournal<Entry> | undefined {
    const cached = this.journals.get(keyId);
    return cached && isFresh(cached.readAt, now, maxAgeMs) ? cached : undefined;
  }

  rememberJournal(keyId: string, journal: CachedJournal<Entry>): void {
    this.journals.set(keyId, journal);
  }

  /** The work already running under `scope`, or `work()` started now and shared until it settles. */
  singleFlight<T>(scope: string, work: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(scope);
    if (running) return running as Promise<T>;
    const started = work().finally(() => {
      if (this.inFlight.get(scope) === started) this.inFlight.delete(scope);
    });
    this.inFlight.set(scope, started);
    return started;
  }

  /** The work running under `scope`, if any (a full observation in flight serves a single-key view too). */
  running<T>(scope: string): Promise<T> | undefined {
    return this.inFlight.get(scope) as Promise<T> | undefined;
  }
}

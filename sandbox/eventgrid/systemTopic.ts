/**
 * Each vault's Event Grid system topic: KeyNewVersionCreated when a version is created, and
 * KeyNearExpiry / KeyExpired for the current (newest) version of a key, once each, when due.
 * Managed HSMs have no system topic and emit nothing.
 */
import { findKey } from "../arm/keyReference.js";
import type { SandboxVault } from "../model.js";
import type { SandboxStore } from "../store.js";
import { publishToSubscriptions } from "./delivery.js";
import {
  KEY_VAULT_EVENT_TYPES,
  type KeyVaultEventType,
  keyVaultEvent,
  NEAR_EXPIRY_LEAD_MS,
} from "./keyVaultEvents.js";

interface ExpiryNotices {
  version: string;
  nearExpirySent: boolean;
  expiredSent: boolean;
}

/** Per store, per key ("vault/key"): which expiry events its current version already had. */
const expiryNoticesByStore = new WeakMap<SandboxStore, Map<string, ExpiryNotices>>();

/** Start publishing KeyNewVersionCreated for the store's vaults. */
export function attachSystemTopics(store: SandboxStore): void {
  store.events.on("keyVersionCreated", ({ vault, keyName, version }) => {
    publishKeyEvent(store, vault, keyName, version, KEY_VAULT_EVENT_TYPES.newVersionCreated);
  });
}

function publishKeyEvent(
  store: SandboxStore,
  vault: SandboxVault,
  keyName: string,
  version: string,
  eventType: KeyVaultEventType,
): void {
  if (vault.kind !== "vault") return;
  const keyVersion = findKey(vault, keyName)?.versions.find((candidate) => candidate.version === version);
  if (!keyVersion) return;
  publishToSubscriptions(
    store,
    vault.name,
    keyVaultEvent(vault, keyName, keyVersion, eventType, store.now()),
  );
}

/** Publish the KeyNearExpiry and KeyExpired events that have become due. */
export function publishDueExpiryEvents(store: SandboxStore): void {
  let noticesByKey = expiryNoticesByStore.get(store);
  if (!noticesByKey) {
    noticesByKey = new Map();
    expiryNoticesByStore.set(store, noticesByKey);
  }
  const now = store.now();
  for (const vault of store.vaults.values()) {
    if (vault.kind !== "vault") continue;
    for (const key of vault.keys.values()) {
      const current = key.versions.at(-1);
      if (!current || current.exp === undefined) continue;
      const keyId = `${vault.name}/${key.name}`;
      let notices = noticesByKey.get(keyId);
      if (!notices || notices.version !== current.version) {
        notices = { version: current.version, nearExpirySent: false, expiredSent: false };
        noticesByKey.set(keyId, notices);
      }
      if (!notices.nearExpirySent && now >= current.exp - NEAR_EXPIRY_LEAD_MS) {
        notices.nearExpirySent = true;
        publishKeyEvent(store, vault, key.name, current.version, KEY_VAULT_EVENT_TYPES.nearExpiry);
      }
      if (!notices.expiredSent && now >= current.exp) {
        notices.expiredSent = true;
        publishKeyEvent(store, vault, key.name, current.version, KEY_VAULT_EVENT_TYPES.expired);
      }
    }
  }
}

import type { InjectionKey } from "vue";
import { inject } from "vue";
import type { Store } from "./store";

export const STORE_KEY: InjectionKey<Store> = Symbol("store");

export function useStore(): Store {
  const store = inject(STORE_KEY);
  if (!store) throw new Error("the console store is not provided");
  return store;
}

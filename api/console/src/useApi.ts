import { inject, type InjectionKey } from "vue";
import type { Api } from "./api";

export const API_KEY: InjectionKey<Api> = Symbol("api");

export function useApi(): Api {
  const api = inject(API_KEY);
  if (!api) throw new Error("the API client is not provided");
  return api;
}

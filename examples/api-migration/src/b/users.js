import { oldApi } from "../api.js";

export const invite = (email) => oldApi(email);

import { oldApi } from "../api.js";

export const create = (order) => oldApi(order);
export const cancel = (id) => oldApi(id);

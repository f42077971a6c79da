export const owner = "nobody";
